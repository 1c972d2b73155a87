"""The oneDNN ISA fix: which convolution kernel oneDNN picks with and without it (DNNL_VERBOSE),
that a user's ONEDNN_MAX_CPU_ISA is never overridden, and the ways to turn the fix off.

The kernel checks run a small 3x3 convolution through MindSpore in subprocesses (oneDNN reads
its ISA cap once per process). No timings here: benchmarks/isa_fix.py measures the speed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.runtime import isa

ROOT = Path(__file__).resolve().parents[2]
AVX512 = isa.cpu_has_avx512()
needs_avx512 = pytest.mark.skipif(not AVX512, reason="the reference-convolution problem needs an AVX-512 CPU")

CONV_SCRIPT = """
import sys
from archspec.runtime.isa import apply_isa_fix
print("ARCHSPEC_ISA: " + apply_isa_fix(sys.argv[1] == "on"), flush=True)
import numpy as np
import mindspore as ms
from mindspore import nn
ms.set_device("CPU")
net = nn.Conv2d(8, 8, 3, pad_mode="pad", padding=1, has_bias=False)
net(ms.Tensor(np.ones((1, 8, 16, 16), np.float32))).asnumpy()
"""

TINY_SPEC = """\
archspec: 1
name: conv3x3
input: {image: [1, 8, 16, 16]}
graph:
  - {id: c, op: conv, out: 8, k: 3, bn: true, act: relu}
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (isa.ENV_VAR, isa.DISABLE_VAR, "DNNL_VERBOSE",
                                                              "ONEDNN_VERBOSE")}
    env.update({"DNNL_VERBOSE": "1", "GLOG_v": "3"})
    env.update(extra)
    return env


def onednn(text: str) -> tuple[str, list[str]]:
    """(the ISA oneDNN reports, the implementations of the convolutions it ran) from DNNL_VERBOSE output."""
    isa_line, impls = "", []
    for line in text.splitlines():
        parts = line.strip().split(",")
        if len(parts) > 4 and parts[0] == "onednn_verbose" and parts[2] == "info" and parts[4].startswith("isa:"):
            isa_line = ",".join(parts[4:])
        if len(parts) > 6 and parts[0] == "onednn_verbose" and parts[3] == "exec" and parts[5] == "convolution":
            impls.append(parts[6])
    return isa_line, impls


def run_conv(fix: str, **env: str) -> tuple[str, str, list[str]]:
    r = subprocess.run([sys.executable, "-c", CONV_SCRIPT, fix], capture_output=True, text=True, cwd=ROOT,
                       env=clean_env(**env), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    said = next(line for line in r.stdout.splitlines() if line.startswith("ARCHSPEC_ISA: "))[len("ARCHSPEC_ISA: "):]
    isa_line, impls = onednn(r.stdout)
    assert impls, "DNNL_VERBOSE printed no convolution: " + r.stdout[-2000:]
    return said, isa_line, impls


def reference(impl: str) -> bool:
    """A reference implementation: 'jit_uni_ncsp:conv+ref:any' has a 'ref' piece, 'x64:gemm:jit' none."""
    return any(piece == "ref" for part in impl.split(":") for piece in part.split("+"))


# ----------------------------------------------------------------------------- the decision (no MindSpore)


@pytest.fixture
def env(monkeypatch):
    for k in (isa.ENV_VAR, isa.DISABLE_VAR):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("ARCHSPEC_SET_" + isa.ENV_VAR, raising=False)  # forget what earlier tests set
    return monkeypatch


def test_a_second_call_repeats_what_archspec_set(env):
    env.setattr(isa, "cpu_has_avx512", lambda: True)
    first = isa.apply_isa_fix()
    assert isa.apply_isa_fix() == first and "set by the user" not in first


def test_fix_sets_avx2_on_avx512(env):
    env.setattr(isa, "cpu_has_avx512", lambda: True)
    assert isa.apply_isa_fix().startswith("ONEDNN_MAX_CPU_ISA=AVX2")
    assert os.environ[isa.ENV_VAR] == "AVX2"


def test_fix_not_needed_without_avx512(env):
    env.setattr(isa, "cpu_has_avx512", lambda: False)
    assert "not needed" in isa.apply_isa_fix()
    assert isa.ENV_VAR not in os.environ


@pytest.mark.parametrize("user_value", ["AVX512_CORE", "SSE41", "AVX2"])
def test_user_value_is_never_overridden(env, user_value):
    env.setattr(isa, "cpu_has_avx512", lambda: True)
    env.setenv(isa.ENV_VAR, user_value)
    assert isa.apply_isa_fix() == f"kept ONEDNN_MAX_CPU_ISA={user_value} (set by the user)"
    assert os.environ[isa.ENV_VAR] == user_value


@pytest.mark.parametrize("how", ["argument", "env"])
def test_fix_can_be_turned_off(env, how):
    env.setattr(isa, "cpu_has_avx512", lambda: True)
    if how == "env":
        env.setenv(isa.DISABLE_VAR, "1")
        said = isa.apply_isa_fix()
    else:
        said = isa.apply_isa_fix(False)
    assert said.startswith("off")
    assert isa.ENV_VAR not in os.environ


def test_disable_var_zero_keeps_the_fix(env):
    env.setattr(isa, "cpu_has_avx512", lambda: True)
    env.setenv(isa.DISABLE_VAR, "0")
    assert isa.apply_isa_fix().startswith("ONEDNN_MAX_CPU_ISA=AVX2")


# ----------------------------------------------------------------------------- what oneDNN then picks


def test_with_fix_onednn_runs_gemm_conv():
    said, isa_line, impls = run_conv("on")
    if not AVX512:
        assert "not needed" in said
        return
    assert said.startswith("ONEDNN_MAX_CPU_ISA=AVX2")
    assert "AVX2" in isa_line and "AVX-512" not in isa_line
    assert all("gemm" in i and not reference(i) for i in impls), impls  # x64:gemm:jit


@needs_avx512
@pytest.mark.parametrize("fix, env", [("off", {}), ("on", {isa.DISABLE_VAR: "1"})])
def test_without_fix_avx512_runs_reference_conv(fix, env):
    said, isa_line, impls = run_conv(fix, **env)
    assert said.startswith("off")
    assert "AVX-512" in isa_line
    assert all(reference(i) for i in impls), impls  # jit_uni_ncsp:conv+ref:any


@pytest.mark.parametrize("user_value, isa_word", [("SSE41", "SSE4.1"), ("AVX512_CORE", "AVX-512")])
def test_user_value_reaches_onednn(user_value, isa_word):
    if isa_word == "AVX-512" and not AVX512:
        pytest.skip("needs an AVX-512 CPU")
    said, isa_line, impls = run_conv("on", **{isa.ENV_VAR: user_value})
    assert said == f"kept ONEDNN_MAX_CPU_ISA={user_value} (set by the user)"
    assert isa_word in isa_line
    if isa_word == "AVX-512":
        assert all(reference(i) for i in impls), impls  # the user's choice, slow or not


# ----------------------------------------------------------------------------- through the CLI


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("isa") / "conv3x3.yaml"
    path.write_text(TINY_SPEC)
    return path


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env(**env), timeout=600)


def test_cli_compile_applies_the_fix(tiny_spec):
    r = cli("compile", str(tiny_spec), "--runs", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    isa_line, impls = onednn(r.stdout)
    assert impls
    if AVX512:
        assert "AVX2" in isa_line and all("gemm" in i and not reference(i) for i in impls), impls
        assert "ONEDNN_MAX_CPU_ISA=AVX2" in r.stdout


@needs_avx512
@pytest.mark.parametrize("flag, env", [(["--no-isa-fix"], {}), ([], {isa.DISABLE_VAR: "1"})])
def test_cli_compile_fix_turned_off(tiny_spec, flag, env):
    r = cli("compile", str(tiny_spec), "--runs", "1", *flag, **env)
    assert r.returncode == 0, r.stderr[-2000:]
    isa_line, impls = onednn(r.stdout)
    assert "AVX-512" in isa_line and impls and all(reference(i) for i in impls), impls
    assert "CPU ISA: off" in r.stdout


def test_cli_compile_keeps_user_value(tiny_spec):
    r = cli("compile", str(tiny_spec), "--runs", "1", **{isa.ENV_VAR: "SSE41"})
    assert r.returncode == 0, r.stderr[-2000:]
    isa_line, _ = onednn(r.stdout)
    assert "SSE4.1" in isa_line
    assert "kept ONEDNN_MAX_CPU_ISA=SSE41" in r.stdout


def test_cli_build_no_isa_fix_flag(tiny_spec):
    import json

    on = cli("build", str(tiny_spec), "--json", DNNL_VERBOSE="0")
    off = cli("build", str(tiny_spec), "--json", "--no-isa-fix", DNNL_VERBOSE="0")
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    assert json.loads(off.stdout)["cpu_isa"].startswith("off")
    if AVX512:
        assert json.loads(on.stdout)["cpu_isa"].startswith("ONEDNN_MAX_CPU_ISA=AVX2")
