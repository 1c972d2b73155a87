"""Shared helpers for the spec tests: write spec files into tmp_path, catch positioned errors."""
from __future__ import annotations

import signal
import sys
import textwrap
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from archspec.errors import SpecError, SpecErrors

REPO = Path(__file__).resolve().parents[1]
# The plain-PyTorch reference models (tests/oracles/torch_ref.py) are imported as `torch_ref`.
sys.path.insert(0, str(Path(__file__).resolve().parent / "oracles"))
SPECS = REPO / "specs"

# The shipped specs whose full-graph checks take seconds each: run by `-m slow`; the default suite
# checks the same behaviour on the small ones (MobileNetV2, its DeepLabV3+, U-Net).
BIG_SPECS = {"deeplabv3p.yaml", "deeplabv3p_resnet101.yaml", "resnet50.yaml", "resnet50", "resnet101"}


def small_first(names):
    """pytest params for `names`, the big specs (or backbones) marked slow."""
    return [pytest.param(n, marks=[pytest.mark.slow] if n in BIG_SPECS else []) for n in sorted(names)]


# The first lines of most test specs: three lines, so the graph list starts on line 4.
HEAD = "archspec: 1\nname: t\ninput: {image: [1, 3, 32, 32]}\n"


def conv_spec(name: str, size: int, nodes: list[str], outputs: str, conv: str = "{bn: true, act: relu}") -> str:
    """The text of a small spec: one [1, 3, size, size] image, conv defaults `conv`, one graph
    line per entry of `nodes` (flow-style YAML), outputs `outputs`."""
    return (f"archspec: 1\nname: {name}\ninput: {{image: [1, 3, {size}, {size}]}}\ndefaults:\n  conv: {conv}\n"
            "graph:\n" + "".join(f"  - {n}\n" for n in nodes) + f"outputs: [{outputs}]\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write `text` (dedented) to tmp_path/name, creating folders; return the path."""
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def pos(path_or_text, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, col) of the `occurrence`-th `needle` in a file (or text)."""
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, col


def all_errors(exc: BaseException) -> list[SpecError]:
    return list(exc.errors) if isinstance(exc, SpecErrors) else [exc]


def catch(fn, *args, **kwargs) -> list[SpecError]:
    """Run fn, expect a SpecError or SpecErrors; return the list of SpecErrors reported."""
    with pytest.raises((SpecError, SpecErrors)) as info:
        fn(*args, **kwargs)
    errs = all_errors(info.value)
    assert errs, "SpecErrors without any error"
    for e in errs:
        assert isinstance(e, SpecError)
        assert e.loc is not None, f"error without a location: {e}"
    return errs


def load_resolve(path, overrides=None, **kwargs):
    import archspec

    spec = archspec.load(path, overrides, **kwargs)
    return archspec.resolve(spec, fuse=False)


def errors_of(path, overrides=None, **kwargs) -> list[SpecError]:
    """The errors of loading and resolving a spec file (it must fail)."""
    return catch(load_resolve, path, overrides, **kwargs)


def one_error(path, overrides=None, **kwargs) -> SpecError:
    """The single error of a spec with one mistake (a second, follow-on error is a bug)."""
    errs = errors_of(path, overrides, **kwargs)
    assert len(errs) == 1, "expected exactly one error, got:\n" + "\n".join(e.render() for e in errs)
    return errs[0]


def assert_at(err: SpecError, file, line: int, col: int) -> None:
    """The error points at file:line:col."""
    assert err.loc is not None, err.render()
    assert (err.loc.file, err.loc.line, err.loc.col) == (str(file), line, col), err.render()


def find(errs: list[SpecError], text: str) -> SpecError:
    """The first error whose message contains `text`."""
    for e in errs:
        if text in e.message:
            return e
    raise AssertionError(f"no error mentions {text!r}:\n" + "\n".join(e.render() for e in errs))


class TimeLimit(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` can swallow it."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the body after `seconds` (SIGALRM, main thread, POSIX); elsewhere only measure."""
    if not (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
        yield
        return

    def alarm(signum, frame):
        raise TimeLimit()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def peak_rss_growth_mb(fn):
    """(how far the process's peak resident memory rose while `fn` ran, in MB; what fn returned).
    Linux: the high-water mark (VmHWM) is reset first through /proc/self/clear_refs."""
    def hwm() -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) // 1024

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = hwm()
    result = fn()
    return hwm() - before, result


@pytest.fixture(scope="module")
def ms():
    """MindSpore on CPU in PYNATIVE mode, seeded (skips when MindSpore is not installed)."""
    mindspore = pytest.importorskip("mindspore")
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    mindspore.set_seed(0)
    return mindspore
