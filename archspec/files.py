"""Writing output files safely: into a temporary file beside the target, then renamed into place,
so a failure never leaves half a file, and existing files are kept unless the user forces."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from archspec.errors import Location, SpecError


def write_probe(folder: str | Path) -> str | None:
    """Why files cannot be created in `folder`, or None when they can.

    Tries a real file: `os.access` says yes to root even on read-only file systems.
    """
    try:
        fd, probe = tempfile.mkstemp(prefix=".archspec-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return e.strerror or str(e)
    return None


def check_target(path: str | Path, force: bool = False, option: str = "--out") -> Path:
    """Fail early, with a clear message, when `path` cannot be written; create missing parent folders
    (every command's output path works like `mkdir -p` for its folder)."""
    p = Path(path)
    if p.is_dir():
        raise SpecError(f"{p} is a folder; give a file name", Location(option), hint=f"e.g. {option} {p / 'model'}")
    if p.exists() and not force:
        raise SpecError(f"{p} already exists", Location(option), hint="pass --force to overwrite it")
    parent = p.parent if str(p.parent) else Path(".")
    make_folder(parent, option)
    return p


def make_folder(folder: str | Path, option: str = "--out") -> Path:
    """Create `folder` (and its parents) if needed and check that files can be created in it."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise SpecError(f"{p} exists and is not a folder", Location(option), hint="choose another output path")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpecError(f"cannot create folder {p} ({e.strerror or e})", Location(option),
                        hint="choose another output path") from None
    problem = write_probe(p)
    if problem:
        raise SpecError(f"folder {p} is not writable ({problem})", Location(option), hint="choose another output path")
    return p


def usual_permissions(path: str | Path) -> None:
    """Give a file the mode a plain open() would (mkstemp makes 0600, MindSpore's export 0400)."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o666 & ~umask)
    except OSError:  # a file system without modes
        pass


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it is renamed onto `path`."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix or p.suffix, dir=p.parent if str(p.parent) else ".")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            usual_permissions(tmp_path)
        os.replace(tmp_path, p)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str, force: bool = False, option: str = "--out") -> Path:
    p = check_target(path, force, option)
    with atomic_path(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p
