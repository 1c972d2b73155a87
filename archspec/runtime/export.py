"""Export a built net to MindIR, ONNX or AIR; write it atomically with a manifest; verify the file.

    report = export(graph, net, "mindir", "model.mindir", spec=spec)   # BN folded by default

What happens, in order (nothing is written at the target until every check has passed):

1. Checks that need no MindSpore: the format, the target and its manifest (`<artifact>.json`)
   are writable and do not exist (unless `force`), and every node can be exported to the format
   (`OpDef.export_check`, e.g. exact GELU cannot go to ONNX): all such nodes are named, with
   their spec positions, before anything is built or written.
2. The net to export: `deploy_cell` folds BatchNorm into the convolutions (`fold=True`) and
   picks the lowerings the format needs (`EXPORT_LOWERING`: ONNX gets bilinear upsampling as two
   MatMuls, since MindSpore 2.10 cannot export ResizeBilinearV2, residual adds as binary Adds,
   since its AddN export leaves a dead SequenceConstruct node, and transposed convolutions as
   ordinary ones, since its ConvTranspose export does not load). The user's `net` is unchanged.
3. `mindspore.export` / `mindspore.onnx.export` write into a temporary folder beside the target
   (MindSpore appends the suffix itself and chmods its output read-only; its file-name check
   rejects paths with spaces, so a folder with such a path falls back to the system temp folder).
   When MindSpore's exporter fails anyway and the output's folder can take a file, each node's
   Cell is exported on its own to name the node that cannot be exported.
4. Verification on one random input (standard normal, `seed`), two checks that each compare like
   with like, each with the tolerance its own error calls for (max |a - b| <= max(rtol * max |b|,
   1e-6) per output):
   * **folding** (`kind="model"`): the in-memory model that is exported (BN folded, re-lowered for
     the format) against `net`, the model as built. Folding changes the arithmetic, so this is
     float32 rounding that grows with depth and with the fold scales gamma/sqrt(var + eps):
     `FOLD_RTOL` (see there for the measurements behind it). Skipped when nothing was folded or
     re-lowered (the exported net is `net`).
   * **file** (`kind="file"`): the written file, run, against that in-memory model: MindIR loaded
     back with `mindspore.load` + `nn.GraphCell` (the same kernels: expect 0), ONNX in onnxruntime
     when it is installed (another runtime's kernels and summation order; else skipped, and the
     manifest says so): `FILE_RTOL[format]`. AIR cannot be run off the board (it needs ATC).
   Both are always measured and reported; a failure of either raises `VerificationError` naming
   which check failed, and the artifact is NOT installed: a file at the target path is always one
   that passed (a pipeline that checks the exit status and then picks up the file can never
   deploy a wrong model). `verify=False` installs without running the file (the folding check
   still runs; the manifest records that).
5. The artifact and the manifest are moved into place together (`archspec.files.install_all`:
   under a lock on the folder, and without `force` never onto a file that appeared meanwhile, so
   of two exports to one path one wins whole and the other fails clearly); the temporary folder
   is removed on every path out, failures, Ctrl-C and SIGTERM included (`files.staging_folder`),
   and a killed run's is removed by the next run. A full disk (or a quota, or `ulimit -f`) is an
   error naming the output, never a node.

`argmax=True` (a deploy head; `archspec export --argmax`) appends an argmax over the channels to
the FIRST output (`graph.passes.argmax_head`): the file then outputs the class map, int32,
[N, H, W] for [N, C, H, W] scores, named `classes` (a C-times smaller transfer off the board).
The file is verified against the argmax of the in-memory model's scores (folding is checked on
the scores): every position must pick the reference's best class, or a class whose reference
score is within 2 * tolerance of the best (a near-tie that the float differences allowed by the
tolerance, at most `tolerance` on each of the two scores, can flip). The check's `max_abs_diff`
is the largest such score gap and `mismatched` counts the positions that differ.

The caller sets up the runtime (`archspec.runtime.host.setup`); `archspec export` uses
PYNATIVE mode: the exporter compiles the graph itself, and running the reference net eagerly
avoids a second graph compile (about 13 s for DeepLabV3+ ResNet-101 on a 2-core CPU) while
checking the compiled artifact against an independent execution path.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archspec import __version__
from archspec.errors import ErrorSink, Location, SpecError, did_you_mean, error_head
from archspec.files import (check_not_special, check_target, install_all, output_error, raise_if_interrupted,
                            staging_folder, usual_permissions)
from archspec.progress import stage

__all__ = ["FORMATS", "EXPORT_LOWERING", "FILE_RTOL", "FOLD_RTOL", "RTOL", "ExportReport", "OutputCheck",
           "VerificationError",
           "artifact_paths", "check_exportable", "check_format_device", "export", "parse_format"]

# format -> (MindSpore's file_format, file suffix)
FORMATS = {"mindir": ("MINDIR", ".mindir"), "onnx": ("ONNX", ".onnx"), "air": ("AIR", ".air")}
# Lowering options each format needs (see OpDef.lower_options); numerically the same model.
EXPORT_LOWERING: dict[str, dict[str, str]] = {
    "onnx": {"upsample.bilinear": "matmul", "add.kernel": "chain", "conv_transpose.kernel": "conv"},
}
# Folding BatchNorm (and re-lowering) against the model as built: float32 rounding of a changed
# arithmetic, which grows with depth and with the fold scales gamma / sqrt(var + eps). Measured at
# 513x513 (benchmarks/export_tolerance.py; docs/BENCHMARKS.md, "Export verification"): with BN
# statistics as training leaves them, 2.7e-4 of the output scale on ResNet-50 DeepLabV3+ and 6.2e-4
# on ResNet-101 (ResNet-50 with imported VOC weights: 7.8e-5); with random statistics under 2e-6.
# 5e-3 leaves an 8x margin over the worst, while folding mistakes (a channel axis swapped, the mean
# or eps left out, a bias dropped) move outputs by a large fraction of their scale.
FOLD_RTOL = 5e-3
RTOL = FOLD_RTOL  # the name `export(rtol=...)` has always had
# The written file against the in-memory model it was written from: the same model, so only the
# runtime differs. A MindIR runs MindSpore's own kernels: 0 in every measurement above. onnxruntime
# has its own kernels and summation order, whose rounding the same conditioning amplifies (up to
# 6.1e-4 on ResNet-101): it gets folding's tolerance.
FILE_RTOL = {"mindir": 1e-5, "onnx": FOLD_RTOL, "air": 1e-5}
ATOL_FLOOR = 1e-6
_MS_NAME_OK = re.compile(r"^[0-9a-zA-Z@\_\-\.\:\/\\]+$")  # mindspore's check_file_name_by_regular


class VerificationError(Exception):
    """Folding changed the numbers beyond float32 rounding, or the written artifact does not compute
    what the in-memory model it was written from computes (within tolerance); `checks` has both."""

    def __init__(self, message: str, checks: list["OutputCheck"]) -> None:
        super().__init__(message)
        self.checks = checks


@dataclass
class OutputCheck:
    output: str
    what: str  # "reloaded MindIR (mindspore.load + nn.GraphCell)", "onnxruntime 1.x", "in-memory export net"
    max_abs_diff: float
    scale: float  # max |reference output|
    tolerance: float
    classes: bool = False  # a class map (argmax head): max_abs_diff is the largest reference score gap
    mismatched: int = 0  # of a class map: positions whose class differs from the reference's argmax
    # "file": the written file against the in-memory export model; "model": that model (BN folded,
    # re-lowered) against the model as built
    kind: str = "file"

    @property
    def passed(self) -> bool:
        return bool(self.max_abs_diff <= self.tolerance)


@dataclass
class ExportReport:
    path: Path
    manifest_path: Path
    format: str
    fold_bn: bool
    bn_folded: int  # conv+BN units folded
    argmax: bool  # the first output is the class map (int32), see the module docstring
    params: int  # trainable parameters of the exported net
    params_unfolded: int  # of the net as built
    lowering: dict[str, str]
    inputs: dict[str, tuple[int, ...]]
    outputs: dict[str, tuple[int, ...]]
    verified_with: str  # what ran the artifact, or why it was not run
    checks: list[OutputCheck] = field(default_factory=list)
    weights: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    device: str = "CPU"

    @property
    def lowering_changes(self) -> dict[str, str]:
        """The lowering choices that differ from each op's default (what the format needed)."""
        from archspec.ops import registry

        defaults = {f"{op}.{k}": v for op, opts in registry.lower_options(None).items() for k, v in opts.items()}
        return {k: v for k, v in self.lowering.items() if defaults.get(k) != v}

    @property
    def file_max_abs_diff(self) -> float | None:
        """Of the written file against the in-memory export model (None when the file was not run)."""
        return _largest(self.checks, "file")

    @property
    def fold_max_abs_diff(self) -> float | None:
        """Of the in-memory export model (BN folded, re-lowered) against the model as built (None when
        the exported model is the built one)."""
        return _largest(self.checks, "model")

    max_abs_diff = file_max_abs_diff  # the older name


def _largest(checks: list[OutputCheck], kind: str) -> float | None:
    diffs = [c.max_abs_diff for c in checks if c.kind == kind]
    return max(diffs) if diffs else None


# ----------------------------------------------------------------------------- checks (no MindSpore)
def parse_format(fmt: str) -> str:
    f = str(fmt).strip().lower().lstrip(".")
    if f not in FORMATS:
        raise SpecError(f"unknown export format '{fmt}'", Location("--format"),
                        hint=did_you_mean(f, FORMATS) or "use mindir, onnx or air")
    return f


def check_format_device(fmt: str, device: str) -> None:
    if fmt == "air" and device != "Ascend":
        raise SpecError(f"AIR export needs an Ascend device (AIR is Ascend-only, and deprecated in MindSpore 2.10); "
                        f"this export runs on {device}", Location("--format"),
                        hint="for an Ascend board use --format mindir (MindSpore Lite converter_lite) or --format onnx "
                             "(ATC --framework=5); see docs/DEPLOY.md")


def artifact_paths(out_path: str | Path, fmt: str) -> tuple[Path, Path]:
    """The artifact's path (the format's suffix appended unless present) and its manifest's."""
    ext = FORMATS[fmt][1]
    p = Path(out_path)
    check_not_special(p)  # `--out /dev/full` must not become /dev/full.mindir
    if p.suffix.lower() != ext:
        other = {e for _, e in FORMATS.values()} - {ext}
        if p.suffix.lower() in other:
            raise SpecError(f"--out {p} has the suffix of another format than --format {fmt}", Location("--out"),
                            hint=f"use --out {p.with_suffix(ext)}")
        p = p.with_name(p.name + ext)
    return p, p.with_name(p.name + ".json")


def check_exportable(graph, fmt: str, options: dict[str, str] | None = None) -> None:
    """Raise SpecError(s) naming every node that cannot be exported to `fmt` with these lowering
    options (default: the format's EXPORT_LOWERING). Pure Python: no MindSpore import."""
    from archspec.ops import registry

    resolved = registry.lower_options(EXPORT_LOWERING.get(fmt, {}) if options is None else options)
    sink = ErrorSink()
    for node in graph.nodes:
        why = registry.get(node.op).export_check(node, fmt, resolved.get(node.op, {}))
        if why:
            sink.add(SpecError(f"node '{node.name}' (op '{node.op}') cannot be exported to {fmt.upper()}: {why}",
                               loc=node.loc, path=node.path, hint=_alternatives(fmt)))
    sink.raise_if_any()


def _alternatives(fmt: str) -> str:
    if fmt == "onnx":
        return "export --format mindir instead, or change the spec (e.g. act: relu or hswish for gelu)"
    return "export to another format"


# ----------------------------------------------------------------------------- export
def export(graph, net, fmt: str, out_path: str | Path, *, spec=None, fold: bool = True,
           weights_source: str | Path | None = None, weights_report=None, init_seed: int | None = 0,
           force: bool = False, seed: int = 0, rtol: float = FOLD_RTOL, verify: bool = True,
           device: str = "CPU", argmax: bool = False, file_rtol: float | None = None, on_event=None) -> ExportReport:
    """Export `net` (built from `graph` by `build_cell`) to `out_path` in `fmt`; see the module doc.

    spec: the loaded Spec (for the manifest: path, SHA-256 of every file read).
    weights_source: the checkpoint `net`'s weights came from (None: random init with `init_seed`);
        weights_report: what `load_weights` returned, for the manifest.
    argmax: append an argmax over channels to the first output (the file outputs the int32
        class map; see the module docstring).
    seed: of the random verification input. rtol: tolerance of the folding check, file_rtol of the
    file check (default FILE_RTOL[fmt]), both relative to the reference's largest magnitude.
    on_event: progress events (archspec.progress).
    Raises SpecError (user mistakes, nothing written),
    VerificationError (folding or the artifact computes other numbers, nothing written).
    """
    import mindspore

    from archspec.graph.passes import count_with_bn
    from archspec.lower import run
    from archspec.lower.fold import deploy_cell

    t_start = time.perf_counter()
    fmt = parse_format(fmt)
    check_format_device(fmt, device)
    if getattr(net, "spec_graph", None) is not graph:
        raise ValueError("net must be the Cell build_cell(graph) returned for this graph")
    artifact, manifest_path = artifact_paths(out_path, fmt)
    check_target(artifact, force)
    check_target(manifest_path, force)
    # The net's own lowering choices, overridden where the format needs another one.
    built_options = dict(getattr(net, "lower_options", {}))
    options = {**built_options, **EXPORT_LOWERING.get(fmt, {})}
    check_exportable(graph, fmt, options)
    timings: dict[str, float] = {}

    # The net to export: folded and/or lowered for the format; `net` itself stays as built.
    with stage(on_event, "fold", "folding BatchNorm" if fold else "lowering for " + fmt.upper(), timings,
               "fold_and_lower"):
        if fold or options != built_options:
            model_graph, model_net = deploy_cell(net, fold=fold, options=options)
        else:
            model_graph, model_net = graph, net
        exp_graph, exp_net = model_graph, model_net
        if argmax:
            exp_graph, exp_net = _with_argmax_head(model_graph, model_net, options)

    # The references: the net as built and the in-memory model to export (its scores), on one
    # random input. Folding is checked against the first, the written file against the second.
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in graph.inputs.values()]
    xs = [mindspore.Tensor(a) for a in arrays]
    checks: list[OutputCheck] = []
    with stage(on_event, "reference", "running the model as built", timings, "reference_run"):
        ref = model_ref = _outputs(run(net, *xs))
        if model_net is not net:
            model_ref = _outputs(run(model_net, *xs))
            checks += _compare(model_graph, ref, model_ref, "in-memory export net", rtol, kind="model")
    if not verify:  # the file will not be run: a folding failure stops here
        _raise_if_failed(checks, fmt)
    file_tol = FILE_RTOL[fmt] if file_rtol is None else file_rtol

    with staging_folder(artifact, fallback_ok=lambda p: bool(_MS_NAME_OK.match(str(p)))) as stage_dir:
        with stage(on_event, "export", f"writing the {fmt.upper()} file", timings):
            produced = _write(exp_net, exp_graph, xs, fmt, stage_dir, artifact)
        raise_if_interrupted()  # MindSpore's compiler may have swallowed a Ctrl-C
        verified_with = "not run (--no-verify)"
        if verify:
            with stage(on_event, "verify", f"running the {fmt.upper()} file to verify it", timings):
                verified_with, outs = _run_artifact(produced, fmt, graph, arrays, xs)
                if outs is not None:
                    checks += _compare(exp_graph, model_ref, outs, verified_with, file_tol, argmax, kind="file")
        _raise_if_failed(checks, fmt)

        weights = _weights_entry(weights_source, weights_report, init_seed)
        report = ExportReport(
            path=artifact, manifest_path=manifest_path, format=fmt, fold_bn=fold,
            bn_folded=count_with_bn(graph) if fold else 0, argmax=argmax,
            params=_trainable(exp_net), params_unfolded=_trainable(net),
            lowering=dict(getattr(exp_net, "lower_options", {})),
            inputs={k: tuple(v) for k, v in graph.inputs.items()},
            outputs={k: tuple(exp_graph.shape_of(k)) for k in exp_graph.outputs},
            verified_with=verified_with, checks=checks, weights=weights, timings=timings, device=device)
        timings["total"] = time.perf_counter() - t_start
        report.manifest = _manifest(report, graph, spec, produced, seed, {"model": rtol, "file": file_tol},
                                    mindspore.__version__, device)
        manifest_tmp = stage_dir / "manifest.json"
        try:
            manifest_tmp.write_text(json.dumps(report.manifest, indent=2, default=str) + "\n", encoding="utf-8")
        except OSError as e:
            raise (output_error(e, manifest_path) or e) from None
        install_all([(produced, artifact), (manifest_tmp, manifest_path)], replace=force)
    return report


def _trainable(net) -> int:
    return sum(int(p.size) for p in net.trainable_params())


def _outputs(y) -> list[np.ndarray]:
    items = y if isinstance(y, (tuple, list)) else (y,)
    return [t.asnumpy() if hasattr(t, "asnumpy") else np.asarray(t) for t in items]


def _with_argmax_head(graph, net, options: dict[str, str]):
    """`graph` with the argmax head (graph.passes.argmax_head) and a net for it carrying `net`'s
    weights (the head has none); `net` itself is not changed."""
    from archspec.graph.passes import argmax_head
    from archspec.lower import build_cell
    from archspec.lower.fold import load_arrays, net_arrays

    head = argmax_head(graph)
    head_net = build_cell(head, options=options)
    load_arrays(head_net, net_arrays(net))
    return head, head_net


def _compare(graph, ref: list[np.ndarray], got: list[np.ndarray], what: str, rtol: float,
             argmax: bool = False, kind: str = "file") -> list[OutputCheck]:
    """One check per output of `graph` (what ran: `got`) against the reference outputs `ref`; with
    `argmax`, the first is a class map checked against the argmax of the first reference. `kind`:
    "file" (the written file against the in-memory model) or "model" (that model against the
    model as built)."""
    if len(got) != len(ref):
        raise VerificationError(f"{what} returned {len(got)} outputs, the net {len(ref)}", [])
    checks = []
    for i, (name, r, g) in enumerate(zip(graph.outputs, ref, got)):
        if argmax and i == 0:
            checks.append(_compare_classes(name, r, g, what, rtol, kind))
            continue
        if tuple(g.shape) != tuple(r.shape):
            raise VerificationError(f"{what}: output '{name}' has shape {list(g.shape)}, the net {list(r.shape)}", [])
        scale = float(np.abs(r).max()) if r.size else 0.0
        diff = float(np.abs(g.astype(np.float64) - r.astype(np.float64)).max()) if r.size else 0.0
        if not np.isfinite(diff):
            diff = float("inf")
        checks.append(OutputCheck(name, what, diff, scale, max(rtol * scale, ATOL_FLOOR), kind=kind))
    return checks


def _compare_classes(name: str, scores: np.ndarray, classes: np.ndarray, what: str, rtol: float,
                     kind: str = "file") -> OutputCheck:
    """A class map against the reference scores [N, C, ...]: the gap between the best reference
    score and the reference score of the class picked, at most 2 * tolerance (module docstring)."""
    want = tuple(scores.shape[:1] + scores.shape[2:])
    if tuple(classes.shape) != want:
        raise VerificationError(f"{what}: class map '{name}' has shape {list(classes.shape)}, "
                                f"expected {list(want)}", [])
    if classes.dtype != np.int32:
        raise VerificationError(f"{what}: class map '{name}' is {classes.dtype}, expected int32", [])
    scale = float(np.abs(scores).max()) if scores.size else 0.0
    tolerance = 2 * max(rtol * scale, ATOL_FLOOR)
    if ((classes < 0) | (classes >= scores.shape[1])).any():
        return OutputCheck(name, what, float("inf"), scale, tolerance, True, int(classes.size), kind)
    s = scores.astype(np.float64)
    picked = np.take_along_axis(s, classes[:, None].astype(np.int64), axis=1)[:, 0]
    gap = s.max(axis=1) - picked
    mismatched = int((classes != scores.argmax(axis=1)).sum())
    return OutputCheck(name, what, float(gap.max()) if gap.size else 0.0, scale, tolerance, True, mismatched, kind)


def _raise_if_failed(checks: list[OutputCheck], fmt: str) -> None:
    """VerificationError naming which check failed (folding, the file, or both), with both numbers."""
    bad = [c for c in checks if not c.passed]
    if not bad:
        return
    parts = []
    model_bad = [c for c in bad if c.kind == "model"]
    file_bad = [c for c in bad if c.kind == "file"]
    if model_bad:
        parts.append("folding BatchNorm (and re-lowering for the format) changed the outputs by more than float32 "
                     "rounding explains: " + "; ".join(_failure_text(c) for c in model_bad))
    if file_bad:
        parts.append(f"the written {fmt.upper()} does not compute what the in-memory model it was written from "
                     f"computes: " + "; ".join(_failure_text(c) for c in file_bad))
    passed = {c.kind for c in checks if c.passed} - {c.kind for c in bad}
    if "file" in passed:
        parts.append(f"the written {fmt.upper()} itself matches the in-memory model (max abs diff "
                     f"{_largest(checks, 'file'):.3g})")
    if "model" in passed:
        parts.append(f"folding is within its tolerance (max abs diff {_largest(checks, 'model'):.3g})")
    raise VerificationError("verification failed: " + "; ".join(parts) + ". Nothing was written.", checks)


def _failure_text(c: OutputCheck) -> str:
    if c.classes:
        return (f"class map '{c.output}': {c.mismatched} positions pick a class whose reference score is up to "
                f"{c.max_abs_diff:.3g} below the best > tolerance {c.tolerance:.3g} (score scale {c.scale:.3g}; "
                f"{c.what})")
    return (f"output '{c.output}': max abs diff {c.max_abs_diff:.3g} > tolerance {c.tolerance:.3g} "
            f"(output scale {c.scale:.3g}; {c.what})")


def _write(net, graph, xs, fmt: str, stage: Path, artifact: Path) -> Path:
    import mindspore

    target = stage / "model"
    try:
        with _quiet_warnings():
            if fmt == "onnx":
                mindspore.onnx.export(net, *xs, file_name=str(target), input_names=list(graph.inputs),
                                      output_names=list(graph.outputs))
            else:
                mindspore.export(net, *xs, file_name=str(target), file_format=FORMATS[fmt][0])
    except Exception as exc:  # noqa: BLE001 (MindSpore's exporter: why did it fail?)
        # A full disk (or quota, or ulimit -f) is the output's problem, not a node's: look for it first.
        unwritable = _output_problem(exc, stage, artifact)
        if unwritable is not None:
            raise unwritable from exc
        located = _locate_unexportable(net, graph, fmt, stage)
        if located is not None:
            raise located from exc
        raise RuntimeError(f"MindSpore could not export the network to {fmt.upper()}: {error_head(exc)}") from exc
    produced = stage / ("model" + FORMATS[fmt][1])
    others = sorted(p.name for p in stage.iterdir() if p != produced and p.name != ".lock")
    if not produced.is_file():
        raise RuntimeError(f"MindSpore wrote no {produced.name} (found: {others})")
    if others:  # external weight files (models over 1-2 GB): not handled yet
        raise RuntimeError(f"MindSpore split the {fmt.upper()} into several files ({', '.join(others)}); "
                           "archspec export handles single-file artifacts only (models under 1 GB)")
    usual_permissions(produced)  # MindSpore leaves its output read-only (0400)
    return produced


def _output_problem(exc: BaseException, stage: Path, artifact: Path) -> SpecError | None:
    """The SpecError naming the output when an export failed because its folder cannot take the file
    (the exception is such an OSError, or a 1 MiB probe written where MindSpore wrote fails)."""
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and output_error(e, artifact) is not None:
            return output_error(e, artifact)
    probe = stage / "space-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * (1 << 20))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return output_error(e, artifact)
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _locate_unexportable(net, graph, fmt: str, stage: Path) -> SpecError | None:
    """Export each node's Cell on its own (once per distinct op and arguments) to name the node
    MindSpore's exporter rejects. Costs one small export per distinct node; only after a failure."""
    import mindspore

    probe = stage / "probe"
    probe.mkdir(exist_ok=True)
    seen = set()
    for i, node in enumerate(graph.nodes):
        key = (node.op, repr(node.args), tuple(map(tuple, node.in_shapes)))
        if key in seen:
            continue
        seen.add(key)
        xs = [mindspore.Tensor(np.zeros(s, np.float32)) for s in node.in_shapes]
        try:
            with _quiet_warnings():
                if fmt == "onnx":
                    mindspore.onnx.export(net.nodes[i], *xs, file_name=str(probe / f"n{i}"))
                else:
                    mindspore.export(net.nodes[i], *xs, file_name=str(probe / f"n{i}"), file_format=FORMATS[fmt][0])
        except Exception as exc:  # noqa: BLE001
            return SpecError(f"node '{node.name}' (op '{node.op}') cannot be exported to {fmt.upper()}: "
                             f"MindSpore: {error_head(exc)}", loc=node.loc, path=node.path, hint=_alternatives(fmt))
    return None


@contextlib.contextmanager
def _quiet_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _run_artifact(path: Path, fmt: str, graph, arrays: list[np.ndarray], xs) -> tuple[str, list[np.ndarray] | None]:
    """Run the written file on the verification input: (what ran it, its outputs or None)."""
    import mindspore

    if fmt == "mindir":
        cell = mindspore.nn.GraphCell(mindspore.load(str(path)))
        return "reloaded MindIR (mindspore.load + nn.GraphCell)", _outputs(cell(*xs))
    if fmt == "onnx":
        try:
            import onnxruntime as ort
        except ImportError:
            return "not run: onnxruntime is not installed (pip install onnxruntime)", None
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {i.name: a for i, a in zip(session.get_inputs(), arrays)}
        return f"onnxruntime {ort.__version__}", [np.asarray(o) for o in session.run(None, feeds)]
    return "not run: AIR runs only after ATC conversion on the board (the in-memory export net was checked)", None


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _weights_entry(source, report, init_seed) -> dict[str, Any]:
    if source is None:
        return {"source": f"random init, seed {init_seed}", "seed": init_seed}
    entry: dict[str, Any] = {"source": "checkpoint", "path": str(source), "sha256": _sha256(source)}
    if report is not None:
        entry["loaded"] = getattr(report, "loaded", None)
        total = getattr(report, "total", None)
        if total:
            entry["total"] = total
        skipped = list(getattr(report, "skipped", []) or [])
        if skipped:
            entry["skipped"] = skipped
            entry["note"] = f"partial: parameters not in the checkpoint keep their random init (seed {init_seed})"
    return entry


def _manifest(report: ExportReport, graph, spec, produced: Path, seed: int, rtol: dict[str, float],
              ms_version: str, device: str) -> dict[str, Any]:
    spec_entry: dict[str, Any] = {"name": graph.name}
    if spec is not None:
        spec_entry.update(path=str(spec.file), sha256=spec.sha256,
                          files=[{"path": f, "sha256": _sha256(f) if Path(f).is_file() else None} for f in spec.files])
    elif graph.source:
        spec_entry["path"] = graph.source
    versions = {"archspec": __version__, "mindspore": ms_version, "python": platform.python_version(),
                "numpy": np.__version__}
    if report.format == "onnx":
        with contextlib.suppress(ImportError):
            import onnxruntime

            versions["onnxruntime"] = onnxruntime.__version__
    return {
        "archspec_manifest": 2,  # 2: verification split into the file check and the folding check
        "artifact": {"file": report.path.name, "format": report.format, "sha256": _sha256(produced),
                     "bytes": produced.stat().st_size},
        "spec": spec_entry,
        "params": dict(graph.params),
        "inputs": [{"name": k, "shape": list(v), "dtype": "float32"} for k, v in report.inputs.items()],
        "outputs": [{"name": k, "shape": list(v), "dtype": "int32" if report.argmax and i == 0 else "float32"}
                    for i, (k, v) in enumerate(report.outputs.items())],
        "argmax_head": report.argmax,
        "fold_bn": report.fold_bn,
        "bn_folded": report.bn_folded,
        "parameters": {"exported": report.params, "as_built": report.params_unfolded},
        "lowering": report.lowering,
        "weights": report.weights,
        "verification": {
            "ran_with": report.verified_with,
            "input": f"standard normal, seed {seed}",
            # the two numbers, each against its own reference and tolerance (relative to its scale)
            "file": {"against": "the in-memory model that was exported", "rtol": rtol["file"],
                     "max_abs_diff": report.file_max_abs_diff},
            "folding": {"against": "the model as built (BatchNorm not folded, default lowerings)",
                        "rtol": rtol["model"], "max_abs_diff": report.fold_max_abs_diff},
            "checks": [{"kind": c.kind, "output": c.output, "what": c.what, "max_abs_diff": c.max_abs_diff,
                        "output_scale": c.scale, "tolerance": c.tolerance, "passed": c.passed,
                        **({"mismatched": c.mismatched} if c.classes else {})}
                       for c in report.checks],
        },
        "exported_on": {"device": device, "machine": platform.machine(), "system": platform.system()},
        "versions": versions,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "timings_s": {k: round(v, 3) for k, v in report.timings.items()},
    }
