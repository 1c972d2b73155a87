"""Issue 13 (hardening), writers: only a regular file or a new path is ever replaced (with or
without --force, checked again at the final rename); without --force nothing that appeared during
the run is replaced, so of two concurrent writers one wins whole and the other fails clearly;
interrupted runs leave no temporaries, and those of killed runs are swept by the next writer; a
full disk is the output's error, not a node's."""
from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archspec.errors import SpecError
from archspec.files import atomic_path, install_all, sweep, write_text

REPO = Path(__file__).resolve().parents[2]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".archspec-" in p.name)


def char_device(path: Path) -> Path:
    """A character device like /dev/null, made in a test folder (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def special_targets(tmp_path: Path) -> dict[str, Path]:
    real = tmp_path / "real.txt"
    real.write_text("keep me")
    link = tmp_path / "link.txt"
    os.symlink(real, link)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return {"a symbolic link": link, "a FIFO": fifo, "a device": char_device(tmp_path / "null")}


# -- item 7: only regular files are replaced ---------------------------------------------------------------

@pytest.mark.parametrize("force", [False, True])
def test_symlinks_fifos_and_devices_are_never_replaced(tmp_path, force):
    for kind, target in special_targets(tmp_path).items():
        before = os.lstat(target)
        with pytest.raises(SpecError) as info:
            write_text(target, "new", force=force)
        assert kind in info.value.message and info.value.loc.file == "--out", info.value.render()
        assert "--force" not in info.value.hint
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "real.txt").read_text() == "keep me"
    assert leftovers(tmp_path) == []


def test_a_symlink_that_appears_before_the_final_rename_is_not_replaced(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("keep me")
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(SpecError, match="symbolic link"):
        with atomic_path(out) as tmp:
            tmp.write_text("new")
            out.unlink()
            os.symlink(real, out)  # swapped in while the run was writing
    assert out.is_symlink() and real.read_text() == "keep me" and leftovers(tmp_path) == []


def test_schema_out_force_refuses_a_device(tmp_path):
    from archspec.cli import app

    dev = char_device(tmp_path / "stdout")
    r = CliRunner().invoke(app, ["schema", "--out", str(dev), "--force"])
    assert r.exit_code == 2 and "a device" in r.output
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


def test_export_out_a_device_writes_nothing_beside_it(tmp_path):
    from archspec.cli import app
    from archspec.runtime.export import artifact_paths

    dev = char_device(tmp_path / "full")
    with pytest.raises(SpecError, match="a device"):
        artifact_paths(dev, "mindir")
    r = CliRunner().invoke(app, ["export", str(REPO / "specs/unet.yaml"), "--out", str(dev)])
    assert r.exit_code == 2 and "not a place for output files" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


# -- item 10: the final rename never replaces without --force ----------------------------------------------

def test_a_file_created_during_the_run_is_kept(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(SpecError, match="created by another process") as info:
        with atomic_path(out, replace=False) as tmp:
            tmp.write_text("mine")
            out.write_text("theirs")
    assert info.value.loc.file == "--out" and "--force" in info.value.hint
    assert out.read_text() == "theirs" and leftovers(tmp_path) == []


def test_two_concurrent_writers_one_wins_whole(tmp_path):
    out = tmp_path / "model.bin"
    both_written = threading.Barrier(2)
    results: dict[str, object] = {}

    def writer(name: str) -> None:
        try:
            with atomic_path(out, replace=False) as tmp:
                tmp.write_bytes(name.encode() * 100_000)
                both_written.wait(5)  # both checked and staged before either installs
            results[name] = "ok"
        except SpecError as e:
            results[name] = e

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    winners = [n for n, r in results.items() if r == "ok"]
    losers = [r for r in results.values() if isinstance(r, SpecError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "created by another process" in losers[0].message
    assert out.read_bytes() == winners[0].encode() * 100_000
    assert leftovers(tmp_path) == []


def test_a_pair_is_installed_whole_or_not_at_all(tmp_path):
    art, man = tmp_path / "m.mindir", tmp_path / "m.mindir.json"
    a, b = tmp_path / "a.tmp", tmp_path / "b.tmp"
    a.write_text("artifact")
    b.write_text("manifest")
    man.write_text("someone else's")  # appeared while the export ran
    with pytest.raises(SpecError, match="created by another process"):
        install_all([(a, art), (b, man)])
    assert not art.exists() and man.read_text() == "someone else's"


# -- item 10: interrupts and killed runs ----------------------------------------------------------------------

HOLD = """\
import sys, time
from pathlib import Path
from archspec.files import atomic_path, staging_folder
out = Path(sys.argv[1])
ctx = staging_folder(out) if sys.argv[2] == "folder" else atomic_path(out)
with ctx as tmp:
    if sys.argv[2] == "file":
        tmp.write_text("partial")
    else:
        (tmp / "model.mindir").write_text("partial")
    print("READY", flush=True)
    time.sleep(60)
"""


def hold(out: Path, kind: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(out), kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout.readline().strip() == "READY", p.stderr.read()
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_an_interrupted_writer_leaves_no_temporary(tmp_path, sig, kind):
    p = hold(tmp_path / "model.mindir", kind)
    assert len(leftovers(tmp_path)) == 1
    p.send_signal(sig)
    p.wait(10)
    assert p.returncode != 0 and "KeyboardInterrupt" in p.stderr.read()
    assert leftovers(tmp_path) == [] and not (tmp_path / "model.mindir").exists()


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_temporaries_of_killed_writers_are_swept_by_the_next_one(tmp_path, kind):
    alive = hold(tmp_path / "other.mindir", kind)
    killed = hold(tmp_path / "model.mindir", kind)
    killed.kill()
    killed.wait(10)
    stale = [n for n in leftovers(tmp_path) if n.startswith(".model")]
    assert len(stale) == 1
    old = time.time() - 60
    for name in leftovers(tmp_path):  # both old enough: only the lock tells them apart
        os.utime(tmp_path / name, (old, old), follow_symlinks=False)
    write_text(tmp_path / "next.txt", "x")
    try:
        assert [n for n in leftovers(tmp_path) if n.startswith(".model")] == []
        assert len([n for n in leftovers(tmp_path) if n.startswith(".other")]) == 1  # its writer still runs
    finally:
        alive.kill()
        alive.wait(10)
    assert sweep(tmp_path) and leftovers(tmp_path) == []


# -- item 11: a full disk is the output's error ----------------------------------------------------------------

FULL = """\
import resource, sys
from archspec.errors import SpecError
from archspec.files import write_text
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # writes past 4 KiB fail (EFBIG), like a full disk
try:
    write_text(sys.argv[1], "x" * 100_000)
except SpecError as e:
    print(e.render())
"""


def test_a_write_that_the_disk_refuses_is_a_clear_error_naming_the_output(tmp_path):
    out = tmp_path / "big.txt"
    r = subprocess.run([sys.executable, "-c", FULL, str(out)], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert r.stdout.startswith(f"--out: cannot write {out}: File too large"), r.stdout + r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_full_disk_during_export_is_not_blamed_on_a_node(ms, tmp_path, monkeypatch):
    import mindspore

    import archspec
    from archspec.runtime import export as ex

    def disk_full(*args, **kwargs):
        raise RuntimeError("Write mindir file failed")  # what MindSpore says; the folder is full

    monkeypatch.setattr(mindspore, "export", disk_full)
    monkeypatch.setattr(ex, "_locate_unexportable", lambda *a: pytest.fail("a node was blamed for a full disk"))
    real_open = open

    def probe_open(path, mode="r", *args, **kwargs):  # the 1 MiB probe finds the disk full
        if str(path).endswith("space-probe"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", probe_open)
    spec = tmp_path / "s.yaml"
    spec.write_text("archspec: 1\nname: s\ninput: {image: [1, 3, 16, 16]}\n"
                    "graph:\n  - {id: conv1, op: conv, out: 4, k: 3, bn: true, act: relu}\n")
    with pytest.raises(SpecError) as info:
        archspec.export(spec, "mindir", tmp_path / "out" / "m.mindir")
    e = info.value
    assert e.loc.file == "--out" and "No space left on device" in e.message and "m.mindir" in e.message
    assert "conv1" not in e.render() and "free some space" in e.hint
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
