"""`archspec export`: a verified MindIR / ONNX / AIR file and its JSON manifest."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, err, esc
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json


@command("export")
def export_command(
    spec: Path = opt.Spec,
    format_: str = typer.Option("mindir", "--format", "-f", metavar="mindir|onnx|air",
                                help="mindir (MindSpore / MindSpore Lite), onnx (ATC, onnxruntime) or air (Ascend only)."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", metavar="PATH",
                                            help="Artifact path (default: <spec name>.<format> here; missing folders "
                                                 "are created); the manifest goes to PATH.json."),
    fold_bn: bool = typer.Option(True, "--fold-bn/--no-fold-bn", help="Fold BatchNorm into the convolutions."),
    argmax: bool = typer.Option(False, "--argmax",
                                help="A deploy head: the file outputs the int32 class map (argmax over the channels "
                                     "of the first output, N x H x W) instead of the class scores."),
    weights: Optional[Path] = opt.Weights,
    allow_partial: bool = opt.AllowPartial,
    allow_nonfinite: bool = opt.AllowNonfinite,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    force: bool = opt.Force,
    device: opt.DeviceName = opt.Device,
    seed: int = typer.Option(0, "--seed", help="Seed of the random init (without --weights) and of the verification input."),
    verify: bool = typer.Option(True, "--verify/--no-verify",
                                help="Run the written file and compare it with the built net (--no-verify writes it "
                                     "without running it)."),
    no_isa_fix: bool = opt.NoIsaFix,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Export a spec's model (BatchNorm folded) to MindIR, ONNX or AIR, write a JSON manifest beside it,
    and verify the file computes what the built model computes (exit 1 when it does not; nothing is written)."""
    from archspec.api import VerificationError, export

    try:
        with Progress(not as_json) as progress:
            r = export(spec, format_, out_path, **opt.spec_inputs(set_, input_shape, allow_outside_imports),
                       fold_bn=fold_bn, weights=weights, allow_partial=allow_partial,
                       allow_nonfinite=allow_nonfinite, device=device.value, seed=seed,
                       verify=verify, force=force, isa_fix=not no_isa_fix, argmax=argmax, on_event=progress.event)
    except VerificationError as e:
        err.print(f"[red]{esc(e)}[/red]")
        failed = {c.kind for c in e.checks if not c.passed}
        if "model" in failed:
            err.print("  folding failed its check: look for BatchNorm statistics that make folding ill-conditioned "
                      "(variances near 0 under large gammas), or export with --no-fold-bn")
        if "file" in failed or not failed:
            err.print("  the file was not written: it would not compute what the model computes; --no-verify "
                      "writes it anyway for inspection")
        raise typer.Exit(1)
    if as_json:
        print_json({"path": r.path, "manifest_path": r.manifest_path, **r.manifest})
        return
    _print_human(r)


def _print_human(r) -> None:
    from archspec.graph.report import shape_text

    fmt = r.format.upper()
    line(f"wrote {r.path} ({fmt}, {r.manifest['artifact']['bytes'] / 1e6:.1f} MB) and {r.manifest_path}")
    ins = ", ".join(f"{k} {shape_text(v)}" for k, v in r.inputs.items())
    outs = ", ".join(f"{k} {shape_text(v)}" for k, v in r.outputs.items())
    line(f"{r.manifest['spec']['name']}: inputs {ins}    outputs {outs}")
    if r.fold_bn:
        line(f"BatchNorm folded into {r.bn_folded} convolutions: params {r.params_unfolded:,} -> {r.params:,}")
    else:
        line(f"BatchNorm not folded (--no-fold-bn): params {r.params:,}")
    if r.lowering_changes:
        line(f"lowering for {fmt}: " + ", ".join(f"{k}={v}" for k, v in r.lowering_changes.items()))
    w = r.weights
    line("weights: " + (f"{w['path']} (sha256 {w['sha256'][:12]}...)" if w.get("path") else w["source"])
         + (f"; {w['note']}" if w.get("note") else ""))
    for c in r.checks:  # folding first (against the model as built), then the file (against the folded model)
        what = ("folding: the exported model against the model as built" if c.kind == "model" else
                f"file: {c.what} against the exported model in memory")
        line(f"verify {what}, output {c.output}: max abs diff {c.max_abs_diff:.3g} (tolerance "
             f"{c.tolerance:.3g}, scale {c.scale:.3g}) ok")
    if r.file_max_abs_diff is None:
        line(f"the written file was {r.verified_with}")
    shown = ("load", "resolve", "build", "load_weights", "fold_and_lower", "reference_run", "export", "verify")
    line(f"device {r.device}; time: " + "  ".join(f"{k} {r.timings[k]:.1f} s" for k in shown if k in r.timings))
