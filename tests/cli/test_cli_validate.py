"""The command line for specs: `archspec validate`, `schema`, `--version`; clean errors (exit 2,
file:line:col, no traceback unless --debug); and validation never imports MindSpore."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml
from conftest import HEAD, REPO, SPECS, pos, write

import archspec

BAD = HEAD + "graph:\n  - {id: stem, op: cnov, out: 8, k: 3}\n"


def run(*args: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env["COLUMNS"] = "80"  # long error lines must still be one line each
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=timeout, env=env)


def test_validate_good_spec_exits_0():
    r = run("validate", str(SPECS / "resnet50.yaml"))
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout and "resnet50" in r.stdout and "25,557,032" in r.stdout
    assert "Traceback" not in r.stderr and r.stderr.strip() == ""


def test_validate_all_shipped_specs():
    specs = sorted(str(p) for p in SPECS.glob("*.yaml"))
    r = run("validate", *specs)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok ") == len(specs)


def test_validate_bad_spec_exits_2_with_position_and_hint(tmp_path):
    p = write(tmp_path, "bad.yaml", BAD)
    line, col = pos(p, "cnov")
    r = run("validate", str(p))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.splitlines()
    want = f"{p}:{line}:{col}: graph[0] (id: stem).op: unknown op 'cnov'"
    assert lines[0] == want or lines[0] == want.replace(" (id: stem)", ""), r.stderr
    assert re.fullmatch(r"\s+hint: did you mean 'conv'\?", lines[1]), r.stderr
    assert "\x1b[" not in r.stderr  # no colour codes when not writing to a terminal


def test_validate_reports_every_error_and_keeps_going(tmp_path):
    bad = write(tmp_path, "bad.yaml", HEAD + "graph:\n  - {id: a, op: cnov}\n  - {id: b, op: conv, out: 0, k: 3}\n")
    r = run("validate", str(bad), str(SPECS / "mobilenetv2.yaml"))
    assert r.returncode == 2
    assert "ok" in r.stdout and "mobilenetv2" in r.stdout  # the good spec is still checked
    located = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{bad}:")]
    got = [tuple(int(x) for x in ln[len(str(bad)) + 1:].split(":")[:2]) for ln in located]
    line, col = pos(bad, "out: 0")
    assert got == [pos(bad, "cnov"), (line, col + len("out: "))], r.stderr
    assert "Traceback" not in r.stderr


def test_validate_yaml_syntax_error(tmp_path):
    p = write(tmp_path, "bad.yaml", "archspec: 1\nname: [x\n")
    r = run("validate", str(p))
    assert r.returncode == 2
    assert r.stderr.startswith(f"{p}:3:1: not valid YAML"), r.stderr
    assert "hint:" in r.stderr and "Traceback" not in r.stderr


def test_validate_missing_file(tmp_path):
    r = run("validate", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert "not found" in r.stderr and "Traceback" not in r.stderr


def test_debug_shows_traceback(tmp_path):
    p = write(tmp_path, "bad.yaml", BAD)
    r = run("--debug", "validate", str(p))
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "SpecError" in r.stderr
    assert "unknown op 'cnov'" in r.stderr


def test_set_overrides_a_param():
    r = run("validate", str(SPECS / "resnet50.yaml"), "--set", "num_classes=10", "-s", "size=64")
    assert r.returncode == 0, r.stderr
    assert f"{25_557_032 - 990 * 2049:,}" in r.stdout  # fc shrinks from 1000 to 10 outputs


def test_set_unknown_param_is_a_clean_error():
    r = run("validate", str(SPECS / "resnet50.yaml"), "--set", "num_clases=10")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("--set: ") and "num_clases" in first, r.stderr
    assert "did you mean 'num_classes'" in r.stderr


@pytest.mark.parametrize("item, words", [("num_classes", "name=value"), ("num_classes=ten", "int"),
                                         ("size=8", ">= 32")])
def test_set_bad_values_are_clean_errors(item, words):
    r = run("validate", str(SPECS / "resnet50.yaml"), "--set", item)
    assert r.returncode == 2
    assert words in r.stderr and "Traceback" not in r.stderr


def test_input_shape_option():
    r = run("validate", str(SPECS / "resnet50.yaml"), "--input-shape", "2,3,64,64")
    assert r.returncode == 0, r.stderr
    r = run("validate", str(SPECS / "resnet50.yaml"), "--input-shape", "2,3,zero")
    assert r.returncode == 2 and "--input-shape" in r.stderr and "Traceback" not in r.stderr


def test_outside_imports_flag(tmp_path):
    write(tmp_path, "lib.yaml", "archspec: 1\nname: lib\nblocks:\n  u:\n    graph:\n      - {op: act, fn: relu}\n")
    p = write(tmp_path, "sub/a.yaml", HEAD + "imports: [../lib.yaml]\ngraph:\n  - {block: u}\n")
    r = run("validate", str(p))
    assert r.returncode == 2 and "outside" in r.stderr and "--allow-outside-imports" in r.stderr
    r = run("validate", "--allow-outside-imports", str(p))
    assert r.returncode == 0, r.stderr


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"archspec {archspec.__version__}"


def test_schema_is_valid_json_schema(tmp_path):
    r = run("schema")
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    assert schema["type"] == "object" and "graph" in schema["properties"]
    jsonschema = pytest.importorskip("jsonschema")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    for path in [SPECS / "deeplabv3p.yaml", *sorted(SPECS.glob("*.yaml")), *sorted(SPECS.glob("lib/*.yaml"))]:
        data = yaml.safe_load(path.read_text())
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, f"{path.name}: {errors[:3]}"
    # and it catches mistakes
    data = yaml.safe_load((SPECS / "deeplabv3p.yaml").read_text())
    assert list(validator.iter_errors({**data, "grpah": []}))
    assert list(validator.iter_errors({**data, "archspec": 2}))
    data["graph"][0]["strid"] = 2
    assert list(validator.iter_errors(data))


def test_schema_to_file(tmp_path):
    out = tmp_path / "schema.json"
    r = run("schema", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["title"]
    r = run("schema", "--out", str(out))
    assert r.returncode != 0 and "Traceback" not in r.stderr  # no silent overwrite without --force


def test_validate_help():
    r = run("validate", "--help")
    assert r.returncode == 0
    assert "--set" in r.stdout and "--input-shape" in r.stdout


# ----------------------------------------------------------------------------- no MindSpore
NO_MINDSPORE = textwrap.dedent("""\
    import sys
    from typer.testing import CliRunner
    from archspec.cli.app import app

    runner = CliRunner()
    good = runner.invoke(app, ["validate", *sys.argv[1:-1], "--set", "size=256"])
    assert good.exit_code == 0, good.output
    bad = runner.invoke(app, ["validate", sys.argv[-1]])
    assert bad.exit_code == 2, bad.output
    schema = runner.invoke(app, ["schema"])
    assert schema.exit_code == 0, schema.output
    loaded = sorted(m for m in sys.modules if m == "mindspore" or m.startswith("mindspore."))
    assert not loaded, loaded[:5]
    print("NO-MINDSPORE-OK")
""")


def test_validate_does_not_import_mindspore(tmp_path):
    bad = write(tmp_path, "bad.yaml", BAD)
    specs = [str(SPECS / "deeplabv3p.yaml"), str(SPECS / "mobilenetv2.yaml")]
    r = subprocess.run([sys.executable, "-c", NO_MINDSPORE, *specs, str(bad)], capture_output=True, text=True,
                       cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NO-MINDSPORE-OK" in r.stdout
