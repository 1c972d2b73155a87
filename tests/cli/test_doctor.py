"""`archspec doctor`: what this machine has and what each command needs of it. The real probe runs
once (MindSpore imported in a child process); the rest fakes absent or broken tools."""
from __future__ import annotations

import importlib
import json
import sys

import pytest
from typer.testing import CliRunner

import archspec

doc = importlib.import_module("archspec.api.doctor")  # the module (archspec.api.doctor is also the verb's name)


@pytest.fixture(scope="module")
def here():
    return archspec.doctor()


def test_reports_this_machine(here):
    py = here.component("python")
    assert py.ok and py.version == ".".join(map(str, sys.version_info[:3]))
    ms = here.component("mindspore")
    assert ms.ok and ms.version == "2.10.0" and "CPU" in ms.detail
    torch = here.component("torch")
    assert torch.found and torch.detail == "CPU build" and torch.version.startswith("2.13.0")
    assert here.component("onnxruntime").ok and here.component("onnx").ok
    assert here.component("cpu_isa").version in ("AVX-512", "AVX2", "SSE/AVX") or "not x86" in \
        here.component("cpu_isa").detail
    assert here.component("numpy_blas").found
    assert not here.component("cann").found  # no Ascend toolkit on this machine
    assert not here.component("mindspore_lite").found and "download site" in here.component("mindspore_lite").fix
    for command in ("build, compile, predict, profile, train, eval (CPU)", "export --format mindir",
                    "the test suite (pip install '.[test,peers]')", "validate, schema, ops, specs, diff"):
        assert here.command(command).ready, here.command(command)
    ascend = here.command("export --format air; --device Ascend")
    assert ascend.missing == ["ascend_device", "cann"]
    data = here.to_dict()
    assert {c["name"] for c in data["components"]} >= {"python", "mindspore", "mindspore_lite", "cann", "graphviz",
                                                        "onnxruntime", "torch", "cpu_isa", "numpy_blas"}
    assert all("ready" in c for c in data["commands"])


def fake_probe(monkeypatch, result):
    monkeypatch.setattr(doc, "_run_probe", lambda timeout: result)


def test_absent_tools_are_named_per_command(monkeypatch, tmp_path):
    fake_probe(monkeypatch, {"mindspore": {"version": "2.10.0", "devices": ["CPU", "Ascend"]},
                             "lite": {"error": "ModuleNotFoundError: No module named 'mindspore_lite'"}})
    npu_smi = tmp_path / "npu-smi"
    npu_smi.write_text("#!/bin/sh\n")
    npu_smi.chmod(0o755)
    toolkit = tmp_path / "toolkit"
    toolkit.mkdir()
    (toolkit / "version.cfg").write_text("# CANN\nVersion=8.0.RC2\n")
    monkeypatch.setenv("ASCEND_HOME_PATH", str(toolkit))
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot, no atc, no converter_lite: only the fake npu-smi
    real = doc._dist_version
    monkeypatch.setattr(doc, "_dist_version", lambda name: None if name == "onnxruntime" else real(name))
    r = doc.doctor()
    assert not r.component("graphviz").found and "apt-get install graphviz" in r.component("graphviz").fix
    assert r.command("graph --out FILE.svg|.png|.pdf").missing == ["graphviz"]
    assert r.command("graph --out FILE.dot").ready
    assert not r.component("onnxruntime").found and r.component("onnxruntime").fix == "pip install onnxruntime"
    assert r.command("export --format onnx").ready  # onnxruntime only verifies: used when present
    assert r.command("the test suite (pip install '.[test,peers]')").missing == ["onnxruntime"]
    cann = r.component("cann")
    assert cann.ok and cann.version == "8.0.RC2" and str(npu_smi) in cann.detail
    assert r.command("export --format air; --device Ascend").ready
    assert r.command("on the board: ONNX -> atc -> .om (route B)").missing == ["atc"]


def test_a_broken_mindspore_is_reported_not_fatal(monkeypatch):
    fake_probe(monkeypatch, {"mindspore": {"error": "RuntimeError: Numpy init failed"}, "lite": {}})
    r = doc.doctor()
    ms = r.component("mindspore")
    assert ms.found and not ms.ok and "Numpy init failed" in ms.detail  # installed here, but "does not import"
    assert r.command("build, compile, predict, profile, train, eval (CPU)").missing == ["mindspore"]
    assert r.command("validate, schema, ops, specs, diff").ready


def test_an_unsupported_python_is_flagged(monkeypatch):
    fake_probe(monkeypatch, {"mindspore": {"version": "2.10.0", "devices": ["CPU"]}, "lite": {}})
    monkeypatch.setattr(doc.sys, "version_info", (3, 9, 18, "final", 0))
    py = doc._python()
    assert not py.ok and "3.10-3.12" in py.fix


def test_cli_json_and_table(monkeypatch):
    from archspec.cli import app

    fake_probe(monkeypatch, {"mindspore": {"version": "2.10.0", "devices": ["CPU"]}, "lite": {}})
    r = CliRunner().invoke(app, ["doctor", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert next(c for c in data["components"] if c["name"] == "mindspore")["detail"] == "devices: CPU"
    r = CliRunner().invoke(app, ["doctor"])
    assert r.exit_code == 0, r.output
    assert "this machine" in r.stdout and "what each command needs" in r.stdout and "mindspore" in r.stdout
