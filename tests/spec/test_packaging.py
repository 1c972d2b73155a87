"""The wheel carries the shipped specs, block libraries and weight maps (as archspec/specs), and
an installed archspec finds them: `archspec:` names work with nothing but the wheel."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_holds_the_library_and_installed_archspec_uses_it(tmp_path):
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / name, src / name)
    for folder in ("archspec", "specs"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ".",
                        "-w", str(wheels)], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # the distribution's own name: `archspec` on the public index is an unrelated project
    (wheel,) = wheels.glob("archspec_ms-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    headers = zipfile.ZipFile(wheel).read(meta).decode().split("\n\n", 1)[0].splitlines()
    assert "Name: archspec-ms" in headers and "Requires-Python: <3.13,>=3.10" in headers, headers
    shipped = {"archspec/specs/" + p.relative_to(REPO / "specs").as_posix() for p in (REPO / "specs").rglob("*.yaml")}
    assert shipped <= names
    assert {"archspec/specs/lib/resnet.yaml", "archspec/specs/maps/resnet50.yaml",
            "archspec/specs/deeplabv3p.yaml"} <= shipped
    assert not any(n.startswith("specs/") for n in names)  # inside the package, not a top-level folder

    site = tmp_path / "site"  # what pip install puts in site-packages
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.yaml").write_text("archspec: 1\nname: mine\nextends: archspec:deeplabv3p.yaml\n"
                                    "params: {size: 65}\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("ARCHSPEC_PATH", None)
    code = ("import archspec.spec.library as L, archspec.weights.maps as W; print(L.installed_root()); "
            "print(W.default_map_path('mine.yaml', 'mine'))")
    r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(site / "archspec" / "specs"), str(site / "archspec/specs/maps/deeplabv3p_resnet50.yaml")]
    r = subprocess.run([sys.executable, "-m", "archspec", "validate", "mine.yaml"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok mine.yaml" in r.stdout, r.stderr
