"""Reading untrusted files, and writing output files safely.

Reading (`open_regular`, `read_regular`): regular files only. The file is opened with O_NONBLOCK,
so a FIFO cannot hang the open; its kind and size are checked on the opened descriptor (no race
between a check and the open), and never more than the caller's limit is read.

Writing (`check_target`, `atomic_path`, `staging_folder`, `install`): into a temporary file or
folder beside the target, moved into place when complete, so a failure never leaves half a file.
Only a regular file or a new path is ever replaced: a symlink, device, FIFO or folder is refused,
with or without `force`, at the first check and again at the final rename. Without `force` the
final rename cannot replace anything (RENAME_NOREPLACE, or a hard link), so a file that appeared
while the run worked is kept and the run fails clearly. Temporary names carry the writer's pid and
are locked while in use; the next writer in the same folder removes those whose writer died.
While a temporary exists, SIGTERM and SIGHUP end the run like Ctrl-C, so it is removed.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import signal
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from archspec import limits
from archspec.errors import Location, SpecError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, no sweeping
    fcntl = None  # type: ignore[assignment]

# errors that mean "the output cannot be written" (rather than a bug): reported at the option
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}
_TEMP = re.compile(r"^\..*\.archspec-(\d+)-[0-9a-f]+\.tmp")
_STALE_AFTER_S = 5.0  # a temporary younger than this may not be locked yet by its writer


# ----------------------------------------------------------------------------- reading


def _what_is(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, limit: int, *, loc: Location, what: str = "file",
                 hint: str = "check the path", shown: str | None = None) -> BinaryIO:
    """Open `path` for binary reading if it is a regular file of at most `limit` bytes.

    Refused, as a SpecError at `loc` (naming the file as `shown`, default `path`): a missing file
    (with `hint`), a folder, a FIFO, device or socket, a symbolic-link loop, an unreadable file, and
    (a `LimitError`) a file over the limit.
    """
    name = shown if shown is not None else str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SpecError(f"{what} not found: {name}", loc, hint=hint) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SpecError(f"cannot open {name}: a symbolic link loop", loc,
                            hint="the path's symbolic links point at each other") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise SpecError(f"{name} is not readable (permissions)", loc) from None
        raise SpecError(f"cannot open {name}: {e.strerror or e}", loc) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = _what_is(st.st_mode)
            article = "an" if what[:1] in "aeiou" else "a"
            raise SpecError(f"{name} is {kind}, not {article} {what}", loc,
                            hint="give a regular file (archspec reads no FIFOs, devices or sockets)")
        if st.st_size > limit:
            raise limits.LimitError(f"{name} is {st.st_size:,} bytes; the limit for a {what} is {limit:,}", loc)
        if fcntl is not None:  # back to blocking reads (a regular file never blocks anyway)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int, *, loc: Location, what: str = "file",
                 hint: str = "check the path", shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `open_regular`)."""
    name = shown if shown is not None else str(path)
    with open_regular(path, limit, loc=loc, what=what, hint=hint, shown=shown) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise SpecError(f"cannot read {name}: {e.strerror or e}", loc) from None
    if len(data) > limit:  # it grew after the check
        raise limits.LimitError(f"{name} is over the limit for a {what} ({limit:,} bytes)", loc)
    return data


# ----------------------------------------------------------------------------- writing: checks


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


def _refuse_kind(p: Path, option: str) -> bool:
    """Raise unless `p` is absent or a regular file; True when it exists."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return False
    except OSError as e:
        raise SpecError(f"cannot use {p}: {e.strerror or e}", Location(option), hint="choose another output path") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(f"{p} is a folder; give a file name", Location(option), hint=f"e.g. {option} {p / 'model'}")
    if stat.S_ISLNK(st.st_mode):
        raise SpecError(f"{p} is a symbolic link; archspec replaces only regular files (with or without --force)",
                        Location(option), hint="write to the link's target itself, or choose another path")
    if not stat.S_ISREG(st.st_mode):
        raise SpecError(f"{p} is {_what_is(st.st_mode)}; archspec replaces only regular files (with or without "
                        "--force)", Location(option), hint="choose another output path")
    return True


def check_target(path: str | Path, force: bool = False, option: str = "--out") -> Path:
    """Fail early, with a clear message, when `path` cannot be written: it must be a new path, or
    (with `force`) a regular file. Creates missing parent folders (every command's output path works
    like `mkdir -p` for its folder)."""
    p = Path(path)
    if _refuse_kind(p, option) and not force:
        raise SpecError(f"{p} already exists", Location(option), hint="pass --force to overwrite it")
    parent = p.parent if str(p.parent) else Path(".")
    make_folder(parent, option)
    return p


def check_not_special(path: str | Path, option: str = "--out") -> None:
    """Refuse a path that names a device, FIFO, socket or symlink (an output path that will get a
    suffix, such as `export --out /dev/full`, must not write beside the special file)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except OSError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else _what_is(st.st_mode)
        raise SpecError(f"{p} is {kind}, not a place for output files", Location(option),
                        hint="choose a path in an ordinary folder")


_made_folders: list[Path] = []  # folders make_folder created in this process (each call's deepest first)


def make_folder(folder: str | Path, option: str = "--out") -> Path:
    """Create `folder` (and its parents) if needed and check that files can be created in it.
    Folders it creates and nothing fills are removed when the process ends (a command that fails
    after checking its output path leaves no empty folders behind)."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise SpecError(f"{p} exists and is not a folder", Location(option), hint="choose another output path")
    created = [a for a in (p, *p.parents) if not a.exists()]
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpecError(f"cannot create folder {p} ({e.strerror or e})", Location(option),
                        hint="choose another output path") from None
    if created and not _made_folders:
        atexit.register(remove_empty_folders)
    _made_folders.extend(created)
    problem = write_probe(p)
    if problem:
        raise SpecError(f"folder {p} is not writable ({problem})", Location(option), hint="choose another output path")
    return p


def remove_empty_folders(folders: list[Path] | None = None) -> None:
    """Remove the given (default: all) folders make_folder created that are still empty, deepest first."""
    for folder in list(_made_folders if folders is None else folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextmanager
def output_folder(folder: str | Path, option: str = "--out") -> Iterator[Path]:
    """`make_folder` for the length of a job: if the job fails, the folders it created are removed
    at once while empty (not only when the process ends)."""
    first = len(_made_folders)
    p = make_folder(folder, option)
    try:
        yield p
    except BaseException:
        remove_empty_folders(_made_folders[first:])
        raise


def output_error(e: OSError, path: str | Path, option: str = "--out") -> SpecError | None:
    """The SpecError for an OSError that means `path` cannot be written (full disk, quota, read-only
    file system, ...), or None for other errors."""
    if e.errno not in _OUTPUT_ERRNOS:
        return None
    hint = {errno.ENOSPC: "free some space, or choose another output path",
            errno.EDQUOT: "free some space, or choose another output path",
            errno.EFBIG: "the file system (or a ulimit -f) does not allow a file this large"}.get(
        e.errno, "choose another output path")
    return SpecError(f"cannot write {path}: {e.strerror or e}", Location(option), hint=hint)


def usual_permissions(path: str | Path) -> None:
    """Give a file the mode a plain open() would (mkstemp makes 0600, MindSpore's export 0400)."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o666 & ~umask)
    except OSError:  # a file system without modes
        pass


# ----------------------------------------------------------------------------- writing: temporaries


def _temp_name(target: Path, suffix: str = "") -> str:
    return f".{target.name}.archspec-{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}"


def _lock(fd: int) -> bool:
    """Take an exclusive lock without waiting; False when another open file holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def sweep(folder: str | Path) -> list[str]:
    """Remove the temporaries of writers that died (killed, power loss) in `folder`; their names.

    A temporary is stale when nothing holds its lock (every writer holds it while the temporary
    exists) and it is older than a few seconds (the moment between creating and locking it)."""
    removed: list[str] = []
    if fcntl is None:
        return removed
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not _TEMP.match(entry.name) or entry.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if now - entry.stat(follow_symlinks=False).st_mtime < _STALE_AFTER_S:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            lock_path = os.path.join(entry.path, ".lock") if is_dir else entry.path
            fd = os.open(lock_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            try:
                if not _lock(fd):
                    continue  # its writer is alive
                if is_dir:
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
                removed.append(entry.name)
            finally:
                os.close(fd)
    return removed


_SIGNALS = {"depth": 0, "received": [], "old": {}}  # nesting, signals that arrived, handlers to restore


@contextmanager
def _cleanup_on_signals() -> Iterator[None]:
    """While active (main thread only), Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt, so the
    `finally` clauses that remove temporaries run, and are remembered: a library that swallows the
    exception (MindSpore's graph compiler calls back into Python) cannot make the run go on to
    install its output (`raise_if_interrupted`, which `install` calls)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        _SIGNALS["received"].append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    if _SIGNALS["depth"] == 0:
        _SIGNALS["received"].clear()
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                sig = getattr(signal, name)
                _SIGNALS["old"][sig] = signal.signal(sig, interrupt)
    _SIGNALS["depth"] += 1
    try:
        yield
    finally:
        _SIGNALS["depth"] -= 1
        if _SIGNALS["depth"] == 0:
            for sig, handler in _SIGNALS["old"].items():
                signal.signal(sig, handler)
            _SIGNALS["old"].clear()


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt if a signal arrived while a temporary existed (see _cleanup_on_signals)."""
    if _SIGNALS["depth"] and _SIGNALS["received"]:
        raise KeyboardInterrupt(f"signal {_SIGNALS['received'][0]}")


@contextmanager
def atomic_path(path: str | Path, suffix: str = "", *, replace: bool = True, option: str = "--out") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; when the body succeeds it is moved onto `path`,
    which may be a regular file (replaced) or new; with `replace=False` only if it still does not
    exist (a user's output without --force: `replace=force`, after `check_target`). A full disk or
    a read-only file system while writing is a SpecError at `option`."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    sweep(folder)
    with _cleanup_on_signals():
        fd, tmp = _make_temp(p, folder, suffix)
        tmp_path = Path(tmp)
        try:
            _lock(fd)
            try:
                yield tmp_path
            except OSError as e:
                raise (output_error(e, p, option) or e) from None
            if tmp_path.exists():
                usual_permissions(tmp_path)
            install(tmp_path, p, replace=replace, option=option)
        finally:
            if tmp_path.exists():
                tmp_path.unlink()
            os.close(fd)


def _make_temp(target: Path, folder: Path, suffix: str) -> tuple[int, str]:
    for _ in range(100):
        tmp = folder / _temp_name(target, suffix or target.suffix)
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            continue
        except OSError as e:
            raise (output_error(e, target) or e) from None
        return fd, str(tmp)
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))  # pragma: no cover


@contextmanager
def staging_folder(target: str | Path, fallback_ok=None) -> Iterator[Path]:
    """A temporary folder beside `target` for a writer that produces files itself (MindSpore's
    exporter), removed on every way out, Ctrl-C and SIGTERM included; locked while in use so that
    `sweep` leaves it alone. `fallback_ok(path)`: False when a library cannot write into this path
    (the system's temporary folder is used instead)."""
    t = Path(target)
    parent = t.parent if str(t.parent) else Path(".")
    sweep(parent)
    with _cleanup_on_signals():
        folder = parent / _temp_name(t)
        try:
            folder.mkdir()
        except OSError as e:
            raise (output_error(e, t) or e) from None
        if fallback_ok is not None and not fallback_ok(folder.resolve()):
            folder.rmdir()
            system = Path(tempfile.gettempdir())
            sweep(system)
            folder = system / _temp_name(t)
            folder.mkdir()
        lock = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            _lock(lock)
            yield folder.resolve()
        finally:
            os.close(lock)
            shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- writing: the final move


def _renameat2_noreplace(src: Path, dst: Path) -> bool:
    """rename(src, dst) that fails with FileExistsError if dst exists; False where the system or the
    file system cannot do it (the caller falls back to a hard link)."""
    fn = _libc_renameat2()
    if fn is None:
        return False
    at_fdcwd, rename_noreplace = -100, 1
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise FileExistsError(code, os.strerror(code), str(dst))
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(dst))


_RENAMEAT2: list = []


def _libc_renameat2():
    if not _RENAMEAT2:
        fn = None
        with contextlib.suppress(OSError, AttributeError):
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
        _RENAMEAT2.append(fn)
    return _RENAMEAT2[0]


def _move_noreplace(src: Path, dst: Path) -> None:
    if _renameat2_noreplace(src, dst):
        return
    try:
        os.link(src, dst)  # fails if dst exists: nothing is ever replaced
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(dst):  # no hard links here (e.g. FAT): the best this file system allows
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def install(src: str | Path, dst: str | Path, *, replace: bool = False, option: str = "--out") -> None:
    """Move the finished temporary `src` onto `dst` (a copy first when they are on different file
    systems). `dst` must be absent, or with `replace` a regular file; checked again here, at the end."""
    raise_if_interrupted()
    src, dst = Path(src), Path(dst)
    exists = _refuse_kind(dst, option)
    if exists and not replace:
        raise _appeared(dst, option)
    try:
        if replace:
            os.replace(src, dst)
        else:
            _move_noreplace(src, dst)
    except FileExistsError:
        raise _appeared(dst, option) from None
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise (output_error(e, dst, option) or e) from None
        with atomic_path(dst, replace=replace, option=option) as tmp:
            shutil.copyfile(src, tmp)
            shutil.copymode(src, tmp)


def install_all(pairs: list[tuple[Path, Path]], *, replace: bool = False, option: str = "--out") -> None:
    """Install several files as one: under a lock on their folder (concurrent archspec runs install
    one after the other), all or, without `replace`, none (those installed are removed again when a
    later one finds its target taken)."""
    folder = pairs[0][1].parent if str(pairs[0][1].parent) else Path(".")
    with _folder_lock(folder):
        done: list[Path] = []
        try:
            for src, dst in pairs:
                install(src, dst, replace=replace, option=option)
                done.append(dst)
        except BaseException:
            if not replace:
                for dst in done:
                    with contextlib.suppress(OSError):
                        os.unlink(dst)
            raise


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _appeared(dst: Path, option: str) -> SpecError:
    return SpecError(f"{dst} was created by another process while this run was writing it; it was kept, and this "
                     "run wrote nothing", Location(option), hint="pass --force to overwrite it, or choose another path")


def write_text(path: str | Path, text: str, force: bool = False, option: str = "--out") -> Path:
    p = check_target(path, force, option)
    with atomic_path(p, replace=force, option=option) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p
