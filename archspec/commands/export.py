"""`archspec export`: write a verified MindIR / ONNX / AIR file and its JSON manifest.

The command is a skin over `archspec.runtime.export.export` (see that module for the order of
checks, the atomic write and the verification).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import (AllowPartialOpt, NoIsaFixOpt, OutsideOpt, SetOpt, ShapeOpt, WeightsOpt, _esc, app, err,
                          guarded, load_graph, out)
from archspec.errors import Location, SpecError


@app.command("export")
@guarded
def export_command(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec to export."),
    format_: str = typer.Option("mindir", "--format", "-f", metavar="mindir|onnx|air",
                                help="mindir (MindSpore / MindSpore Lite), onnx (ATC, onnxruntime) or air (Ascend only)."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", metavar="PATH",
                                            help="Artifact path (default: <spec name>.<format> here); "
                                                 "the manifest goes to PATH.json."),
    fold_bn: bool = typer.Option(True, "--fold-bn/--no-fold-bn", help="Fold BatchNorm into the convolutions."),
    weights: Optional[Path] = WeightsOpt,
    allow_partial: bool = AllowPartialOpt,
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing artifact and manifest."),
    device: str = typer.Option("CPU", "--device", help="CPU, GPU or Ascend (air needs Ascend)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random init (without --weights) and of the verification input."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Run the written file and compare it with the built net (--no-verify writes it without running it)."),
    no_isa_fix: bool = NoIsaFixOpt,
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Export a spec's model (BatchNorm folded) to MindIR, ONNX or AIR, write a JSON manifest beside it,
    and verify the file computes what the built model computes (exit 1 when it does not; nothing is written)."""
    from archspec.fileio import check_target
    from archspec.runtime.device import canonical_device
    from archspec.runtime.export import (EXPORT_LOWERING, FORMATS, VerificationError, artifact_paths,
                                         check_exportable, check_format_device, parse_format)

    # Every check that needs no MindSpore first: mistakes are reported at once, before anything is written.
    fmt = parse_format(format_)
    dev = canonical_device(device)
    check_format_device(fmt, dev)
    if allow_partial and weights is None:
        raise SpecError("--allow-partial needs --weights CKPT", Location("--allow-partial"))
    if weights is not None:
        if not weights.exists():
            raise SpecError(f"checkpoint file not found: {weights}", Location("--weights"), hint="check the path")
        if weights.is_dir():
            raise SpecError(f"{weights} is a folder, not a checkpoint file", Location("--weights"))
    timings: dict[str, float] = {}
    loaded, graph = load_graph(spec, set_, input_shape, allow_outside_imports, timings=timings)
    artifact, manifest = artifact_paths(out_path if out_path is not None else Path(graph.name + FORMATS[fmt][1]), fmt)
    check_target(artifact, force)
    check_target(manifest, force)
    check_exportable(graph, fmt, EXPORT_LOWERING.get(fmt, {}))

    from archspec.runtime.device import setup

    runtime = setup(dev, "pynative", isa_fix=not no_isa_fix)
    import mindspore

    from archspec.lower import build_cell
    from archspec.runtime.export import export

    t0 = time.perf_counter()
    mindspore.set_seed(seed)
    net = build_cell(graph)
    timings["build"] = time.perf_counter() - t0
    report_w = None
    if weights is not None:
        from archspec.runtime.weights import load_weights

        t0 = time.perf_counter()
        report_w = load_weights(net, weights, allow_partial=allow_partial)
        timings["load_weights"] = time.perf_counter() - t0
    try:
        report = export(graph, net, fmt, artifact, spec=loaded, fold=fold_bn, weights_source=weights,
                        weights_report=report_w, init_seed=seed, force=force, seed=seed, verify=verify, device=dev)
    except VerificationError as e:
        err.print(f"[red]{_esc(str(e))}[/red]", highlight=False)
        err.print("  the artifact was not written: it would not compute what the built model computes; "
                  "rerun with --no-fold-bn to see whether folding is the cause, or --no-verify to write it "
                  "anyway for inspection", highlight=False)
        raise typer.Exit(1)
    timings.update(report.timings)

    ins = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in report.inputs.items())
    outs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in report.outputs.items())
    out.print(f"wrote {_esc(str(report.path))} ({fmt.upper()}, {report.manifest['artifact']['bytes'] / 1e6:.1f} MB) "
              f"and {_esc(str(report.manifest_path))}", highlight=False)
    out.print(f"{graph.name}: inputs {ins}    outputs {outs}", highlight=False)
    if report.fold_bn:
        out.print(f"BatchNorm folded into {report.bn_folded} convolutions: params {report.params_unfolded:,} -> "
                  f"{report.params:,}", highlight=False)
    else:
        out.print(f"BatchNorm not folded (--no-fold-bn): params {report.params:,}", highlight=False)
    from archspec.ops import registry

    defaults = {f"{op}.{k}": v for op, o in registry.lower_options(None).items() for k, v in o.items()}
    changed = {k: v for k, v in report.lowering.items() if defaults.get(k) != v}
    if changed:
        out.print("lowering for " + fmt.upper() + ": " + ", ".join(f"{k}={v}" for k, v in changed.items()), highlight=False)
    w = report.weights
    out.print("weights: " + (f"{w['path']} (sha256 {w['sha256'][:12]}...)" if w.get("path") else w["source"])
              + (f"; {w['note']}" if w.get("note") else ""), highlight=False)
    for c in report.checks:
        out.print(f"verify {_esc(c.output)} ({_esc(c.what)}): max abs diff {c.max_abs_diff:.3g} "
                  f"(tolerance {c.tolerance:.3g}, output scale {c.scale:.3g}) ok", highlight=False)
    if report.max_abs_diff is None:
        out.print(f"[yellow]the written file was {_esc(report.verified_with)}[/yellow]", highlight=False)
    shown = ("load", "resolve", "build", "load_weights", "fold_and_lower", "reference_run", "export", "verify")
    out.print(f"device {runtime.device}; time: " + "  ".join(f"{k} {timings[k]:.1f} s" for k in shown if k in timings),
              highlight=False)
