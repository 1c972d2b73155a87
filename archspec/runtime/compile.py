"""Compile a Cell in GRAPH_MODE at a given jit level; time it and count what the compiled graph runs.

How the jit level reaches the graph (MindSpore 2.10). `mindspore.jit(fn_or_cell, jit_level=...)`
is the recommended API for functions; for a Cell in GRAPH_MODE the same setting is the Cell's
`JitConfig` (`net.set_jit_config(JitConfig(jit_level=...))`, which `Cell.compile` passes to the
graph executor; MindSpore logs "The jit_level is: O1" for either). We use the JitConfig because
it lets us compile without running (`Cell.compile`), so compile time and first-run time are
measured apart. `jit_level="O2"` is deprecated since MindSpore 2.9 and Ascend-only.

How nodes are counted. MindSpore has no public API that lists a compiled graph's kernels, but it
writes its IR files when `MS_DEV_SAVE_GRAPHS` is set, into `MS_DEV_SAVE_GRAPHS_PATH`:

* `graph_build_<graph>_<seq>.ir`: the final kernel graph (every CNode: kernels plus bookkeeping
  nodes such as Load, TupleGetItem, UpdateState), counted as `graph_nodes` by kind;
* `actor_set/final_actor_set_kernel_graph_<graph>.ir`: the kernel actors the runtime launches, in
  order (`%3 = kernel_graph0:Conv2D-op0(...)`), counted as `kernels` by kind.

MindSpore reads `MS_DEV_SAVE_GRAPHS` and `MS_DEV_DUMP_IR_PASSES` once, when the process compiles
(or runs) its first graph, and `MS_DEV_SAVE_GRAPHS_PATH` at every dump. So `prepare_ir_capture()`
must run before MindSpore executes anything (the CLI calls it before importing MindSpore); each
`compile()` then points the path at a folder of its own (a temporary one, deleted afterwards, or
the caller's `ir_dir`). By default only the final graphs are written (`MS_DEV_DUMP_IR_PASSES=
graph_build`: a few MB, no measurable compile-time cost); `full=True` keeps every pass (what
`--dump-ir` wants; writing them makes the compile about twice as slow). Between compiles the
path points at a scratch folder under the temp dir, never at the current folder.

This module imports MindSpore only inside functions.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from archspec.errors import SpecError
from archspec.files import make_folder
from archspec.runtime.environ import scoped_environ
from archspec.runtime.host import OM_PATH_VAR, check_jit_level, scratch_dir

SAVE_VAR = "MS_DEV_SAVE_GRAPHS"
PATH_VAR = "MS_DEV_SAVE_GRAPHS_PATH"
PASSES_VAR = "MS_DEV_DUMP_IR_PASSES"
MINIMAL_PASSES = "graph_build"  # the final kernel graph; the actor sets are always written

_state: dict[str, Any] = {"mode": None, "scratch": None}

_KERNEL_LINE = re.compile(r"^%\d+ = kernel_graph\d+:([A-Za-z_][A-Za-z0-9_]*)-op\d+\(")
_GRAPH_LINE = re.compile(r"^\s+%\d+\([^)]*\) = ([A-Za-z_][A-Za-z0-9_]*)\(")
_GRAPH_FILE = re.compile(r"^graph_build_(\d+)_(\d+)\.ir$")
_ACTORS_FILE = re.compile(r"^final_actor_set_kernel_graph_(\d+)\.ir$")


@dataclass
class CompileReport:
    """What `compile()` measured. Times in seconds; counts by kind, most frequent first."""

    jit_level: str
    compile_s: float
    first_run_s: float
    steady_run_s: float | None  # median of `runs` calls after the first
    runs: int
    kernels: dict[str, int] | None  # kernels the runtime launches, by kind (None: IR not captured)
    graph_nodes: dict[str, int] | None  # every node of the final kernel graph, by kind
    ir_dir: str | None = None  # where the IR files were kept (None: not kept)
    final_graph: str | None = None  # the final kernel graph file, relative to ir_dir
    kernel_list: str | None = None  # the launched kernels in order, relative to ir_dir
    ir_files: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def kernels_total(self) -> int | None:
        return None if self.kernels is None else sum(self.kernels.values())

    @property
    def graph_nodes_total(self) -> int | None:
        return None if self.graph_nodes is None else sum(self.graph_nodes.values())


# --------------------------------------------------------------------------- IR capture


def prepare_ir_capture(full: bool = False) -> str:
    """Make MindSpore write the IR files `compile()` reads. Call before MindSpore runs anything.

    `full=False` writes only the final graphs; `full=True` every pass. A value of
    MS_DEV_SAVE_GRAPHS or MS_DEV_DUMP_IR_PASSES the user set is kept. Returns what was done.
    """
    if _state["mode"] is not None:
        return f"IR capture already set up ({_state['mode']})"
    _forget_inherited()
    user_level = os.environ.get(SAVE_VAR, "")
    if user_level in ("", "0"):
        _set(SAVE_VAR, "1")
        if not full and PASSES_VAR not in os.environ:
            _set(PASSES_VAR, MINIMAL_PASSES)
    scratch = scratch_dir(f"ir-{os.getpid()}")
    os.makedirs(scratch, exist_ok=True)
    atexit.register(shutil.rmtree, scratch, True)
    if not os.environ.get(PATH_VAR):
        _set(PATH_VAR, scratch)  # graphs compiled outside compile() never land in the cwd
    _state.update(mode="full" if full or PASSES_VAR not in os.environ else "final graphs", scratch=scratch)
    return f"IR capture: {_state['mode']}"


_MARK = "ARCHSPEC_SET_"  # beside a variable archspec set: its value then, which child processes inherit


def _set(var: str, value: str) -> None:
    os.environ[var] = value
    os.environ[_MARK + var] = value


def _forget_inherited() -> None:
    """A value an archspec parent process set for itself (e.g. the final-graphs-only capture of an
    in-process `archspec.compile`) is not the user's choice: drop it, so this process decides."""
    for var in (SAVE_VAR, PASSES_VAR, PATH_VAR):
        mark = os.environ.pop(_MARK + var, None)
        if mark is not None and os.environ.get(var) == mark:
            del os.environ[var]


def ir_capture_mode() -> str | None:
    """'full', 'final graphs', or None when prepare_ir_capture() has not run in this process."""
    return _state["mode"]


def _count_matches(path: str | Path, pattern, kind=lambda name: name) -> Counter:
    """Count, by kind, the lines of an IR text file that `pattern` matches (group 1 names the kind)."""
    counts: Counter = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = pattern.match(line)
            if m:
                counts[kind(m.group(1))] += 1
    return counts


def read_kernels(path: str | Path) -> Counter:
    """Kernel kinds in a MindSpore actor-set dump (`final_actor_set_kernel_graph_<n>.ir`)."""
    return _count_matches(path, _KERNEL_LINE)


def read_graph_nodes(path: str | Path) -> Counter:
    """Node kinds (CNodes) in a MindSpore IR text file, e.g. `graph_build_<n>_<seq>.ir`."""
    return _count_matches(path, _GRAPH_LINE, _kind)


def _kind(op: str) -> str:
    return op[len("PrimFunc_"):] if op.startswith("PrimFunc_") else op


def _sorted(c: Counter) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _files(folder: Path) -> dict[str, float]:
    found = {}
    if folder.is_dir():
        for root, _, names in os.walk(folder):
            for n in names:
                p = os.path.join(root, n)
                try:
                    found[os.path.relpath(p, folder)] = os.stat(p).st_mtime_ns
                except OSError:
                    pass
    return found


# --------------------------------------------------------------------------- compiling


def compile(net, inputs: Sequence, jit_level: str | None = None, *, runs: int = 5,  # noqa: A001
            ir_dir: str | Path | None = None) -> CompileReport:
    """Compile `net` for `inputs` in GRAPH_MODE at `jit_level`, run it, and report.

    `inputs`: MindSpore tensors or NumPy arrays. Times: the compile alone (`Cell.compile`), the first run, and the median of `runs` further
    runs (steady state). Counts: kernels and final-graph nodes by kind, read from MindSpore's IR
    files (see the module docstring; None when IR capture was not prepared before MindSpore
    started). With `ir_dir`, the IR files are kept there. A compile failure inside a SpecNet is
    a SpecError naming the spec node. The caller's execution mode is restored afterwards.
    """
    import mindspore

    device = mindspore.get_current_device().device_target
    level = check_jit_level(jit_level, device)
    inputs = [x if isinstance(x, mindspore.Tensor) else mindspore.Tensor(x) for x in inputs]
    _set_jit_level(net, level)
    mode = mindspore.get_context("mode")
    if mode != mindspore.GRAPH_MODE:
        mindspore.set_context(mode=mindspore.GRAPH_MODE)
    try:
        return _compile(net, inputs, level, runs, ir_dir)
    finally:
        if mode != mindspore.GRAPH_MODE:
            mindspore.set_context(mode=mode)


def _compile(net, inputs: Sequence, level: str, runs: int, ir_dir: str | Path | None) -> CompileReport:
    from archspec.lower.cell import compile_cell

    notes: list[str] = []
    capture = ir_capture_mode() or ("user" if os.environ.get(SAVE_VAR, "") not in ("", "0") else None)
    keep = ir_dir is not None
    if keep:
        target = make_folder(ir_dir, "--dump-ir")
    elif capture:
        target = Path(tempfile.mkdtemp(prefix="compile-", dir=_state["scratch"] or None))
    else:
        target = None
        notes.append("node counts need MindSpore's IR files: call archspec.runtime.compile.prepare_ir_capture() "
                     "before MindSpore runs anything")
    if keep and not capture:
        notes.append(f"no IR files were written: {SAVE_VAR} must be set before MindSpore runs anything "
                     f"(archspec.runtime.compile.prepare_ir_capture(full=True))")
    before = _files(target) if target is not None else {}

    changes = {}
    if target is not None:
        changes[PATH_VAR] = str(target)
        if keep:
            changes[OM_PATH_VAR] = str(target)  # a failed compile's analyze_fail.ir lands beside the rest
    with scoped_environ(changes):
        try:
            t0 = time.perf_counter()
            compile_cell(net, *inputs)
            t1 = time.perf_counter()
        except SpecError as e:
            fail = _analyze_fail(os.environ.get(OM_PATH_VAR))
            if fail and not e.hint:
                e.hint = f"MindSpore's analysis of the failure: {fail}"
            raise

    first = _timed(net, inputs)
    steady = statistics.median(_timed(net, inputs) for _ in range(runs)) if runs > 0 else None

    report = CompileReport(jit_level=level, compile_s=t1 - t0, first_run_s=first, steady_run_s=steady,
                           runs=max(runs, 0), kernels=None, graph_nodes=None, notes=notes)
    if target is not None:
        new = sorted(name for name, mtime in _files(target).items() if before.get(name) != mtime)
        _count(report, target, new)
        if keep:
            report.ir_dir = str(target)
            report.ir_files = len(new)
        else:
            report.final_graph = report.kernel_list = None  # deleted with the temporary folder
            shutil.rmtree(target, ignore_errors=True)
    if capture == "full" and keep:
        report.notes.append("compile time includes writing the IR files of every pass")
    return report


def _set_jit_level(net, level: str) -> None:
    from mindspore import JitConfig

    current = (net.jit_config_dict or {}).get("jit_level", "")
    if current and current != level:
        raise ValueError(f"the Cell already has jit level {current}; MindSpore sets a Cell's jit config once, "
                         f"so build a new Cell to compile it at {level}")
    if not current:
        net.set_jit_config(JitConfig(jit_level=level))


def _timed(net, inputs) -> float:
    t0 = time.perf_counter()
    out = net(*inputs)
    for t in out if isinstance(out, (tuple, list)) else (out,):
        if hasattr(t, "asnumpy"):
            t.asnumpy()  # wait for the result
    return time.perf_counter() - t0


def _count(report: CompileReport, folder: Path, new: list[str]) -> None:
    graphs = {}  # graph id -> (seq, file)
    actors = {}
    for name in new:
        base = os.path.basename(name)
        m = _GRAPH_FILE.match(base)
        if m and os.path.dirname(name) == "":
            gid, seq = int(m.group(1)), int(m.group(2))
            if gid not in graphs or seq > graphs[gid][0]:
                graphs[gid] = (seq, name)
        m = _ACTORS_FILE.match(base)
        if m:
            actors[int(m.group(1))] = name
    if not actors:
        report.notes.append("MindSpore wrote no kernel list for this compile, so kernels are not counted")
        return
    kernels: Counter = Counter()
    for name in actors.values():
        kernels += read_kernels(folder / name)
    report.kernels = _sorted(kernels)
    report.kernel_list = ", ".join(actors[g] for g in sorted(actors))
    if graphs:
        nodes: Counter = Counter()
        for _, name in graphs.values():
            nodes += read_graph_nodes(folder / name)
        report.graph_nodes = _sorted(nodes)
        report.final_graph = ", ".join(graphs[g][1] for g in sorted(graphs))


def _analyze_fail(om_path: str | None) -> str | None:
    if not om_path:
        return None
    found = sorted(Path(om_path).glob("rank_*/om/analyze_fail.ir"), key=lambda p: p.stat().st_mtime)
    if found and time.time() - found[-1].stat().st_mtime < 600:
        return str(found[-1])
    return None
