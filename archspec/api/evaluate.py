"""The `evaluate` verb: a spec, its weights and a dataset split in; the standard metrics out.

    report = archspec.evaluate("specs/deeplabv3p_mobilenetv2.yaml", "runs/voc/best.ckpt", "data/VOC2012",
                               overrides={"num_classes": 21}, out="runs/voc/eval")

Segmentation: mIoU over the classes present, per-class IoU and pixel accuracy from one confusion
matrix over the whole split (ignore label excluded), written as `confusion.csv` and
`confusion.png` when `out` is given. Classification: top-1 and top-5. Both: images per second.

The network is built at the evaluation size, not the spec's: `size` (height, width), by default
the largest image of the split (segmentation; each image is padded to it, the padding ignored) or
the spec's input size (classification: resize to size / crop_pct, centre crop). Weights trained at
any size load, since parameter shapes do not depend on the input size. All checks run before
MindSpore starts; user mistakes raise SpecError.
"""
from __future__ import annotations

import contextlib
import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from archspec.errors import Location, SpecError
from archspec.files import output_folder

__all__ = ["EvalReport", "evaluate"]


@dataclass
class EvalReport:
    spec: str
    weights: str
    data: str
    split: str
    task: str  # segmentation or classification
    images: int
    size: tuple[int, int]  # network input (height, width)
    seconds: float
    images_per_s: float
    miou: float | None = None
    pixel_accuracy: float | None = None
    per_class: list[tuple[str, float | None]] = field(default_factory=list)  # (name, IoU); None: not present
    top1: float | None = None
    top5: float | None = None
    confusion_csv: str | None = None
    confusion_png: str | None = None
    weights_summary: str = ""


def _size(value, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) or v < 8 for v in pair):
        raise SpecError(f"{what} must be one side or (height, width), each at least 8; got {value}", Location("--size"))
    return pair


def evaluate(spec, weights, data, split: str = "val", *, overrides: Mapping[str, Any] | None = None,
             layout: str | None = None, size=None, batch: int = 1, out=None, crop_pct: float = 0.875,
             ignore_index: int = 255, workers: int = 1, device: str = "CPU", mode: str = "graph",
             allow_nonfinite: bool = False, on_event: Callable | None = None) -> EvalReport:
    import archspec
    from archspec.data.layouts import class_names, detect_layout, open_split
    from archspec.data.loader import Task
    from archspec.data.scan import scan_split
    from archspec.data.transforms import ClsAugment, SegAugment
    from archspec.errors import ErrorSink
    from archspec.graph import spec_graph
    from archspec.spec.inference import preprocess_settings
    from archspec.training.plan import task_of
    from archspec.weights.checkpoint import read_checkpoint

    emit = on_event or (lambda kind, **data: None)
    loaded = archspec.load(spec, overrides, override_source="--set") if isinstance(spec, (str, Path)) else spec
    graph = archspec.resolve(loaded)
    task, num_classes = task_of(graph, loaded)
    wpath = Path(weights)
    if not wpath.is_file():
        raise SpecError("weights not found" if not wpath.exists() else "not a file", Location(str(wpath)),
                        hint="give --weights a .ckpt (e.g. RUN/best.ckpt)")
    root = Path(data)
    layout = layout or detect_layout(root)
    classes = class_names(root, "train") if layout == "folders" else None
    the_split = open_split(root, split, layout, classes=classes or None)
    if (task == "classification") != (layout == "folders"):
        raise SpecError(f"the {layout} dataset does not fit spec '{loaded.name}', a {task} net", Location("--data"))
    if task == "classification" and len(the_split.classes) != num_classes:
        raise SpecError(f"the dataset has {len(the_split.classes)} classes but the spec's output has {num_classes}",
                        Location("--data"), hint=f"--set num_classes={len(the_split.classes)}")
    sizes = scan_split(the_split)
    name, shape = next(iter(graph.inputs.items()))
    eval_size = _size(size, "size") or (sizes.largest if task == "segmentation" else tuple(shape[2:4]))
    if task == "segmentation":
        big = [(s, wh) for s, wh in zip(the_split.samples, sizes.sizes) if wh[1] > eval_size[0] or wh[0] > eval_size[1]]
        if big:
            raise SpecError(f"{len(big)} image(s) are larger than the evaluation size {eval_size[0]}x{eval_size[1]}, "
                            f"e.g. {big[0][0].image}", Location("--size"),
                            hint="evaluation pads images, never shrinks them: raise --size or leave it unset")
    sized = spec_graph(loaded, {name: (batch, shape[1], *eval_size)},
                       size_loc=Location("--size" if size else "--data"),
                       size_fix="evaluate at a smaller --size, or fewer images at once (--batch)")
    sink = ErrorSink()
    pre = preprocess_settings(loaded, sized, sink)
    sink.raise_if_any()
    labels = _class_names(loaded, sized, num_classes) if task == "segmentation" else None
    read_checkpoint(wpath)  # a damaged file fails here, before MindSpore builds anything
    out_dir = Path(out) if out is not None else None
    # checked (and made) now, before the long part; removed again if the evaluation fails
    with output_folder(out_dir) if out_dir is not None else contextlib.nullcontext():
        aug = (SegAugment(crop=eval_size, ignore_index=ignore_index) if task == "segmentation"
               else ClsAugment(crop=eval_size, crop_pct=crop_pct))
        the_task = Task(task, pre, num_classes, aug, ignore_index)

        from archspec.runtime.host import setup
        from archspec.training.evaluation import Evaluator
        from archspec.weights.checkpoint import load_weights

        setup(device, mode)
        emit("stage", name="eval", label=f"evaluating {loaded.name} on {split}", total=len(the_split))
        emit("phase", name="eval", text=f"building the network at {eval_size[0]}x{eval_size[1]}")
        ev = Evaluator(loaded, the_split, the_task, eval_size, batch, workers)
        summary = load_weights(ev.net, wpath, allow_nonfinite=allow_nonfinite, partial_option=None).summary()
        emit("phase", name="eval", text=f"{len(the_split)} images")
        result = ev.run(lambda n: emit("advance", name="eval", n=n))
        report = EvalReport(spec=loaded.name, weights=str(wpath), data=str(root), split=split, task=task,
                            images=result.images, size=eval_size, seconds=result.seconds,
                            images_per_s=result.images_per_s, weights_summary=summary)
        if task == "segmentation":
            names = labels
            report.miou, report.pixel_accuracy = result.miou, result.pixel_accuracy
            report.per_class = list(zip(names, result.iou))
            if out_dir is not None:
                from archspec.training.plots import draw_confusion

                report.confusion_csv = str(write_confusion_csv(result.confusion, names, out_dir / "confusion.csv"))
                report.confusion_png = str(draw_confusion(result.confusion, names, out_dir / "confusion.png"))
        else:
            report.top1, report.top5 = result.top1, result.top5
    emit("done", name="eval")
    return report


def _class_names(spec, graph, num_classes: int) -> list[str]:
    """The spec's label names when they fit the output (else class_0, class_1, ...: a spec trained
    with --set num_classes=N keeps the labels of its default)."""
    from archspec.errors import ErrorSink
    from archspec.spec.inference import spec_labels
    from archspec.spec.labels import default_labels

    sink = ErrorSink()
    labels = spec_labels(spec, graph, sink)
    return [lab.name for lab in (labels if labels is not None else default_labels(num_classes)).labels]


def write_confusion_csv(counts, names, path: Path) -> Path:
    """Pixel counts, rows ground truth and columns prediction, with a header row and column."""
    from archspec.files import atomic_path

    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["truth \\ prediction", *names])
            for name, row in zip(names, counts):
                w.writerow([name, *(int(v) for v in row)])
    return path
