"""`archspec.export`: a verified deployable file (MindIR, ONNX, AIR) and its JSON manifest."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from archspec.api.common import Event, InputShapes, SpecLike, existing_file, graph_of, needs_weights, quiet, stage


def export(spec: SpecLike, fmt: str = "mindir", out: str | Path | None = None, *,
           overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
           allow_outside_imports: bool = False, fold_bn: bool = True, weights: str | Path | None = None,
           allow_partial: bool = False, allow_nonfinite: bool = False, device: str = "CPU", seed: int = 0, verify: bool = True, force: bool = False,
           isa_fix: bool = True, argmax: bool = False, on_event: Event | None = None):
    """Export `spec`'s model to `fmt` at `out` (default `<spec name>.<format>` in the current folder),
    BatchNorm folded unless `fold_bn=False`, with a manifest at `<out>.json`; `argmax=True` makes the
    file output the int32 class map of the first output instead of its scores; see
    `archspec.runtime.export` for the order of checks, the atomic write and the verification.

    Returns an `ExportReport`. Raises SpecError for user mistakes (found before anything slow runs,
    nothing written) and `VerificationError` when the written file would not compute what the
    built model computes (nothing written).
    """
    from archspec.files import check_target
    from archspec.runtime.export import (
        EXPORT_LOWERING,
        FORMATS,
        artifact_paths,
        check_exportable,
        check_format_device,
        parse_format,
    )
    from archspec.runtime.host import canonical_device

    emit = on_event or quiet
    fmt = parse_format(fmt)
    dev = canonical_device(device)
    check_format_device(fmt, dev)
    needs_weights(allow_partial, weights)
    weights = existing_file(weights, "--weights", "checkpoint file")
    timings: dict[str, float] = {}
    loaded, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports,
                             timings=timings)
    artifact, manifest = artifact_paths(out if out is not None else Path(graph.name + FORMATS[fmt][1]), fmt)
    check_target(artifact, force)
    check_target(manifest, force)
    check_exportable(graph, fmt, EXPORT_LOWERING.get(fmt, {}))

    with stage(emit, "setup", "starting MindSpore", timings):
        from archspec.runtime.host import setup

        setup(dev, "pynative", isa_fix=isa_fix, seed=seed)

    with stage(emit, "build", "building the Cell", timings):
        from archspec.lower import build_cell

        net = build_cell(graph)
    weights_report = None
    if weights is not None:
        from archspec.weights.checkpoint import load_weights

        with stage(emit, "weights", "loading weights", timings, "load_weights"):
            weights_report = load_weights(net, weights, allow_partial=allow_partial, allow_nonfinite=allow_nonfinite)
    from archspec.runtime.export import export as export_net

    report = export_net(graph, net, fmt, artifact, spec=loaded, fold=fold_bn, weights_source=weights,
                        weights_report=weights_report, init_seed=seed, force=force, seed=seed, verify=verify,
                        device=dev, argmax=argmax, on_event=emit)
    report.timings = {**timings, **report.timings}
    return report
