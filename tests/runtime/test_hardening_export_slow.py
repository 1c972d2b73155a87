"""Issue 13 (hardening), a real `archspec export` (MindSpore, seconds each: slow suite): Ctrl-C and
SIGTERM while the file is written leave no staging folder (MindSpore's compiler used to turn
Ctrl-C into SIGTERM, or swallow it); two exports to one path: one wins whole, the other fails
clearly; a disk that refuses the file is the output's error, not a node's."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def export(spec: str, out: Path, *extra: str, preexec=None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "archspec.cli", "export", str(REPO / "specs" / spec), "--out",
                             str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=preexec, **kw)


def staging(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".archspec-" in p.name)


@pytest.mark.slow
@pytest.mark.parametrize("sig, delay", [(signal.SIGINT, 0.1), (signal.SIGINT, 1.5), (signal.SIGTERM, 0.5)])
def test_an_interrupted_export_leaves_no_staging_folder(tmp_path, sig, delay):
    p = export("deeplabv3p.yaml", tmp_path / "model")
    t0 = time.time()
    while not staging(tmp_path):
        assert p.poll() is None and time.time() - t0 < 300, p.stderr.read()
        time.sleep(0.02)
    time.sleep(delay)  # into MindSpore's graph compiler, which used to swallow or reroute Ctrl-C
    p.send_signal(sig)
    p.wait(120)
    assert p.returncode == 130, p.stderr.read()[-2000:]
    assert sorted(x.name for x in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_exports_to_one_path_one_wins_whole(tmp_path):
    out = tmp_path / "m"
    procs = [export("unet.yaml", out, "--set", "size=64") for _ in range(2)]
    results = [(p.wait(300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "already exists" in loser or "created by another process" in loser, loser
    manifest = json.loads((tmp_path / "m.mindir.json").read_text())
    artifact = tmp_path / "m.mindir"
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == manifest["artifact"]["sha256"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.mindir", "m.mindir.json"]


@pytest.mark.slow
def test_a_disk_that_refuses_the_file_is_the_outputs_error(tmp_path):
    import resource

    def one_mib_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    p = export("unet.yaml", tmp_path / "m", preexec=one_mib_files)
    p.wait(300)
    err = p.stderr.read()
    assert p.returncode == 2, err[-2000:]
    assert f"--out: cannot write {tmp_path / 'm.mindir'}: File too large" in err
    assert "node '" not in err and "internal error" not in err
    assert sorted(x.name for x in tmp_path.iterdir()) == []
