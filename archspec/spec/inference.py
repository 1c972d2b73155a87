"""What a spec says about running it on images: its `preprocess:` settings and `labels:`, checked
against the resolved graph (one NCHW image input, output channels = number of labels).

Pure Python (no MindSpore, NumPy or Pillow): `archspec validate` runs these checks for specs that
have `preprocess:` or `labels:`, and `archspec predict` for every spec.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from archspec.errors import ErrorSink, Location, SpecError
from archspec.spec import labels as labels_mod
from archspec.spec.labels import Labels
from archspec.spec.schema import PreprocessDef

if TYPE_CHECKING:  # only for annotations: the checks read shapes off a resolved graph
    from archspec.graph.ir import Graph
    from archspec.spec.loader import Spec


@dataclass(frozen=True)
class Preprocess:
    """Preprocessing resolved for one graph: every per-channel list has one value per channel, in
    the model's channel order. An image becomes ((pixel / 255) - mean) / std, NCHW float32."""

    resize: str  # letterbox, stretch or none
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pad_value: tuple[int, ...]  # 0..255
    channel_order: str  # RGB or BGR (ignored for 1 channel)
    interpolation: str
    input_name: str
    batch: int
    channels: int  # 3 (colour) or 1 (grey)
    height: int
    width: int


@dataclass(frozen=True)
class ImageTask:
    """Everything predict needs to know about a spec, checked."""

    preprocess: Preprocess
    labels: Labels
    output: str
    output_shape: tuple[int, ...]


def _loc(spec: Spec, key: str | None = None) -> Location:
    pre = spec.preprocess
    if pre is not None:
        if key is not None and key in pre:
            return pre.value_loc(key)
        return pre.loc
    return Location(spec.file)


def preprocess_settings(spec: Spec, graph: Graph, sink: ErrorSink) -> Preprocess | None:
    """The spec's `preprocess:` (defaults where absent) for the graph's single image input."""
    if len(graph.inputs) != 1:
        sink.add(SpecError(f"predict feeds one image input; the spec has {len(graph.inputs)} inputs "
                           f"({', '.join(graph.inputs)})", Location(spec.file), "input"))
        return None
    name, shape = next(iter(graph.inputs.items()))
    in_loc = spec.inputs[name][1] if name in spec.inputs else Location(spec.file)
    if len(shape) != 4 or shape[1] not in (1, 3):
        sink.add(SpecError(f"predict needs an image input (N, 3 or 1, H, W); input '{name}' is {list(shape)}",
                           in_loc, f"input.{name}"))
        return None
    n, c, h, w = shape
    model = PreprocessDef.model_validate(dict(spec.preprocess or {}))
    per_channel = {}
    for key in ("mean", "std", "pad_value"):
        value = getattr(model, key)
        if value is None:  # pad_value: the mean colour, so padding becomes 0 after normalization
            value = [round(m * 255) for m in per_channel["mean"]]
        elif not isinstance(value, list):
            value = [value]
        if len(value) == 1:
            value = value * c
        if len(value) != c:
            written = spec.preprocess is not None and key in spec.preprocess
            hint = (f"give 1 or {c} values" if written else
                    f"the default is ImageNet's RGB statistics; write preprocess: {{mean: [...], std: [...]}} "
                    f"with {c} value(s)")
            sink.add(SpecError(f"preprocess {key} has {len(value)} values but input '{name}' has {c} channel(s)",
                               _loc(spec, key), f"preprocess.{key}", hint))
            return None
        per_channel[key] = value
    return Preprocess(
        resize=model.resize, mean=tuple(float(v) for v in per_channel["mean"]),
        std=tuple(float(v) for v in per_channel["std"]), pad_value=tuple(int(v) for v in per_channel["pad_value"]),
        channel_order=model.channel_order, interpolation=model.interpolation, input_name=name,
        batch=n, channels=c, height=h, width=w,
    )


def spec_labels(spec: Spec, graph: Graph, sink: ErrorSink, output: str | None = None) -> Labels | None:
    """The spec's labels (or default names) for the channels of `output` (default: the first)."""
    output = output or graph.outputs[0]
    shape = graph.shape_of(output)
    if len(shape) < 2:
        sink.add(SpecError(f"output '{output}' has shape {list(shape)}: no class channels", Location(spec.file),
                           "outputs"))
        return None
    channels = shape[1]
    labels = labels_mod.from_spec(spec.labels, spec.labels_loc)
    if labels is None:
        return labels_mod.default_labels(channels)
    try:
        labels_mod.check_count(labels, channels, output)
    except SpecError as e:
        sink.add(e)
        return None
    return labels


def check_spec(spec: Spec, graph: Graph) -> None:
    """`archspec validate`: when a spec has `preprocess:` or `labels:`, check them against the graph.

    The labels rule is predict's (`spec_labels`), with or without --set: `labels:` names the
    output's classes, so `--set num_classes=19` on a spec with `labels: voc` is the same mistake
    in both commands (the fix: a child spec with 19 labels).
    """
    if spec.preprocess is None and spec.labels is None:
        return
    sink = ErrorSink()
    if spec.preprocess is not None:
        preprocess_settings(spec, graph, sink)
    if spec.labels is not None:
        spec_labels(spec, graph, sink)
    sink.raise_if_any()


def image_task(spec: Spec, graph: Graph) -> ImageTask:
    """`archspec predict`: preprocess settings and labels, checked. Raises SpecError(s)."""
    sink = ErrorSink()
    pre = preprocess_settings(spec, graph, sink)
    output = graph.outputs[0]
    shape = graph.shape_of(output)
    node = next((n for n in graph.nodes if n.name == output), None)  # None: the output is a graph input
    where = (node.loc, node.path) if node is not None else (Location(spec.file), "outputs")
    if len(shape) != 4:
        sink.add(SpecError(f"predict draws class maps from an (N, classes, H, W) output; output '{output}' is "
                           f"{list(shape)}", *where))
    elif pre is not None and shape[0] != pre.batch:
        sink.add(SpecError(f"output '{output}' has batch {shape[0]} but input '{pre.input_name}' has {pre.batch}",
                           *where))
    labels = spec_labels(spec, graph, sink, output)
    sink.raise_if_any()
    assert pre is not None and labels is not None
    return ImageTask(pre, labels, output, tuple(shape))
