"""The README's Python examples run as written, one after the other as a reader would run them,
from a folder that has the repository's specs/."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    (tmp_path / "specs").symlink_to(REPO / "specs")
    r = subprocess.run([sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, cwd=tmp_path,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "deploy" / "deeplab.onnx").is_file() and (tmp_path / "predictions").is_dir()
