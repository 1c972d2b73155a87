"""`archspec specs` and `archspec diff` on the command line (no MindSpore needed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import write

REPO = Path(__file__).resolve().parents[2]
DEEPLAB = REPO / "specs" / "deeplabv3p.yaml"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "archspec", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


def test_specs_lists_the_installed_library():
    r = run("specs")
    assert r.returncode == 0, r.stderr
    for ref in ("archspec:deeplabv3p.yaml", "archspec:lib/resnet.yaml", "archspec:maps/resnet50.yaml"):
        assert ref in r.stdout
    assert "bottleneck" in r.stdout and "ARCHSPEC_PATH" in r.stdout
    data = json.loads(run("specs", "--json").stdout)
    assert {e["ref"] for e in data["libraries"]} == {f"archspec:lib/{p.name}" for p in (REPO / "specs" / "lib").glob("*.yaml")}


def test_diff_reports_an_aspp_rate_change(tmp_path):
    child = write(tmp_path, "rate12.yaml", "archspec: 1\nname: rate12\nextends: archspec:deeplabv3p.yaml\n"
                                           "patch:\n  aspp: {rate: 12}\n")
    r = run("diff", DEEPLAB, child, "--set", "size=65")
    assert r.returncode == 0, r.stderr
    assert "~ aspp.b3 (conv) changed; dilation: 18 -> 36; padding: [18, 18] -> [36, 36]" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("3 changed; params 40,352,181 -> 40,352,181 (+0), MACs ") and last.endswith(" (+0)")
    data = json.loads(run("diff", DEEPLAB, child, "--set", "size=65", "--json").stdout)
    assert data["counts"]["changed"] == 3 and [n["name"] for n in data["nodes"]] == ["aspp.b1", "aspp.b2", "aspp.b3"]
    same = json.loads(run("diff", DEEPLAB, DEEPLAB, "--json").stdout)
    assert same["same"] is True and same["nodes"] == []


def test_diff_of_a_broken_spec_is_a_clean_error(tmp_path):
    r = run("diff", DEEPLAB, tmp_path / "nope.yaml")
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr
