"""`archspec.build`: a spec as a MindSpore Cell, optionally with weights loaded and saved."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from archspec.api.common import Event, InputShapes, SpecLike, existing_file, graph_of, needs_weights, quiet, stage
from archspec.graph.ir import Graph


@dataclass
class BuildResult:
    graph: Graph
    net: Any  # archspec.lower.SpecNet (a mindspore.nn.Cell, in inference mode)
    cell_params: int  # trainable parameters of the Cell (equals graph.total_params)
    conv2dbnact_cells: int  # nn.Conv2dBnAct cells with BatchNorm
    unfused_conv_bn: list[str]  # Conv2d -> BatchNorm2d pairs outside one Conv2dBnAct (always empty)
    device: str
    cpu_isa: str
    weights: Any = None  # archspec.weights.checkpoint.WeightsReport when `weights` was given
    saved: Path | None = None  # where `save_ckpt` wrote the weights
    saved_tensors: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


def build(spec: SpecLike, *, overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
          allow_outside_imports: bool = False, weights: str | Path | None = None, allow_partial: bool = False,
          allow_nonfinite: bool = False, save_ckpt: str | Path | None = None, force: bool = False, device: str = "CPU", isa_fix: bool = True,
          options: Mapping[str, str] | None = None, on_event: Event | None = None) -> BuildResult:
    """Resolve `spec` and lower it to a `SpecNet` (every conv-BN-act triple one nn.Conv2dBnAct).

    `weights`: a MindSpore checkpoint loaded by parameter name (strict unless `allow_partial`; NaN or
    inf values refused unless `allow_nonfinite`);
    `save_ckpt`: write the weights (as initialized or loaded) to a checkpoint. `options`: lowering
    choices such as {"upsample.bilinear": "matmul"}. The process is set up for `device` in
    PYNATIVE mode (`archspec.runtime.host.setup`). Raises SpecError for user mistakes.
    """
    from archspec.files import check_target

    emit = on_event or quiet
    needs_weights(allow_partial, weights)
    weights = existing_file(weights, "--weights", "checkpoint file")
    if save_ckpt is not None:  # fail before the slow part
        check_target(save_ckpt, force, "--save-ckpt")
    timings: dict[str, float] = {}
    _, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports, timings=timings)
    with stage(emit, "setup", "starting MindSpore", timings, "import_mindspore"):
        from archspec.runtime.host import setup

        runtime = setup(device, "pynative", isa_fix=isa_fix)
    with stage(emit, "lower", "building the Cell", timings):
        from archspec.lower import build_cell, count_fused, find_unfused_conv_bn

        net = build_cell(graph, options=dict(options) if options else None)
    result = BuildResult(graph=graph, net=net, cell_params=sum(int(p.size) for p in net.trainable_params()),
                         conv2dbnact_cells=count_fused(net), unfused_conv_bn=find_unfused_conv_bn(net),
                         device=runtime.device, cpu_isa=runtime.isa, timings=timings)
    if weights is not None:
        from archspec.weights.checkpoint import load_weights

        with stage(emit, "weights", "loading weights", timings, "load_weights"):
            result.weights = load_weights(net, weights, allow_partial=allow_partial, allow_nonfinite=allow_nonfinite)
    if save_ckpt is not None:
        from archspec.weights.checkpoint import save_weights

        with stage(emit, "save", "writing the checkpoint", timings, "save_ckpt"):
            result.saved = save_weights(net, save_ckpt, force=force)
        result.saved_tensors = sum(1 for _ in net.get_parameters())
    return result
