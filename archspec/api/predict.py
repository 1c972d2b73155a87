"""`archspec.predict`: segment images with a spec's model; write class-index masks and overlays."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from archspec.api.common import Event, InputShapes, SpecLike, existing_file, graph_of, quiet, stage
from archspec.errors import ErrorSink, Location, SpecError

MASK_SUFFIX = "_mask.png"
OVERLAY_SUFFIX = "_overlay.png"


@dataclass
class ImagePrediction:
    image: Path
    size: tuple[int, int]  # (width, height)
    mask: Path  # palette PNG, one class index per pixel, at the image's size
    overlay: Path  # the image blended with the class colours, with a legend
    classes: list[tuple[str, float]]  # (label, share of the pixels), largest first


@dataclass
class PredictResult:
    model: str  # the spec's name
    input_shape: tuple[int, int, int, int]
    resize: str
    labels: list[str]
    labels_source: str
    device: str
    weights: str  # what was loaded ("loaded 262 of 262 parameters from x.ckpt"), or that they are random
    random_weights: bool
    images: list[ImagePrediction] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def predict(spec: SpecLike, images: Sequence[str | Path], *, weights: str | Path | None = None,
            random_weights: bool = False, out_dir: str | Path = "predictions",
            overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
            allow_outside_imports: bool = False, allow_partial: bool = False, allow_nonfinite: bool = False,
            device: str = "CPU",
            isa_fix: bool = True, alpha: float = 0.5, force: bool = False,
            on_event: Event | None = None) -> PredictResult:
    """Preprocess `images` as the spec says, run the model in GRAPH mode in its deployed form
    (BatchNorm folded, as `export` writes it), and write `<stem>_mask.png` and `<stem>_overlay.png`
    per image into `out_dir`. Every image and output path is checked before the model runs."""
    emit = on_event or quiet
    if weights is None and not random_weights:
        raise SpecError("predict needs trained weights: --weights CKPT", Location("--weights"),
                        hint="to try the pipeline without weights, pass --random-weights (the masks mean nothing)")
    if weights is not None and random_weights:
        raise SpecError("--weights and --random-weights exclude each other", Location("--random-weights"))
    if not 0.0 <= alpha <= 1.0:
        raise SpecError(f"--alpha must be within [0, 1], got {alpha}", Location("--alpha"))
    if not images:
        raise SpecError("no image given", Location("IMAGE"), hint="archspec predict SPEC --weights CKPT street.png")

    # Every check that needs no MindSpore comes first: mistakes are reported at once, before
    # anything is written.
    from archspec.files import make_folder
    from archspec.prediction.images import check_images, open_image
    from archspec.spec.inference import image_task

    loaded, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports)
    if loaded is None:
        raise SpecError("predict needs the spec (its preprocess: and labels:), not only its graph", Location("SPEC"))
    task = image_task(loaded, graph)
    out_dir = Path(out_dir)
    paths = [Path(p) for p in images]
    targets = _targets(paths, out_dir, force)
    weights = existing_file(weights, "--weights", "checkpoint file")
    timings: dict[str, float] = {}
    with stage(emit, "images", f"reading {len(paths)} image(s)", timings, "check_images"):
        check_images(paths, task.preprocess)  # decodes each once: unreadable files fail here, together
    make_folder(out_dir)

    with stage(emit, "setup", "starting MindSpore", timings):
        from archspec.runtime.host import setup

        runtime = setup(device, "graph", isa_fix=isa_fix)
    with stage(emit, "build", "building the deployed model (BatchNorm folded)", timings):
        from archspec.lower import build_cell, compile_cell
        from archspec.lower.fold import deploy_cell
        from archspec.prediction.masks import zeros_input

        net = build_cell(graph)
        if weights is not None:
            from archspec.weights.checkpoint import load_weights

            weights_text = load_weights(net, weights, allow_partial=allow_partial,
                                            allow_nonfinite=allow_nonfinite).summary()
        else:
            weights_text = "RANDOM weights (--random-weights): the masks and overlays mean nothing"
        # the deployed form: the same numbers to float32 rounding, a smaller graph
        _, net = deploy_cell(net)
    with stage(emit, "compile", "compiling the graph", timings):
        compile_cell(net, zeros_input(task))

    from archspec.prediction.images import class_shares, mask_image, overlay_image, write_pngs
    from archspec.prediction.masks import predict_masks

    pre, labels = task.preprocess, task.labels
    result = PredictResult(model=graph.name, input_shape=(pre.batch, pre.channels, pre.height, pre.width),
                           resize=pre.resize, labels=labels.names, labels_source=labels.source,
                           device=runtime.device, weights=weights_text, random_weights=weights is None,
                           timings=timings)
    with stage(emit, "predict", "predicting", timings, total=len(paths)):
        opened = (open_image(p, pre.channels) for p in paths)
        for (path, (mask_path, overlay_path)), (img, mask) in zip(zip(paths, targets),
                                                                  predict_masks(net, task, opened)):
            write_pngs([(mask_image(mask, labels), mask_path),
                        (overlay_image(img, mask, labels, alpha), overlay_path)], force=force)
            shares = [(labels.labels[k].name, share) for k, share in class_shares(mask, len(labels))]
            result.images.append(ImagePrediction(path, img.size, mask_path, overlay_path, shares))
            emit("advance", name="predict", n=1)
    return result


def _targets(images: list[Path], out_dir: Path, force: bool) -> list[tuple[Path, Path]]:
    """The two output files of each image; refuse name clashes and existing files (unless `force`)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError(f"{out_dir} is a file, not a folder", Location("--out"), hint="choose a folder for the outputs")
    sink = ErrorSink()
    owner: dict[str, Path] = {}
    targets = []
    for path in images:
        pair = (out_dir / f"{path.stem}{MASK_SUFFIX}", out_dir / f"{path.stem}{OVERLAY_SUFFIX}")
        targets.append(pair)
        if path.stem in owner and owner[path.stem] != path:
            sink.add(SpecError(f"{owner[path.stem]} and {path} would both write {pair[0].name}", Location(str(path)),
                               hint="rename one, or predict them into different --out folders"))
        owner.setdefault(path.stem, path)
        for target in pair:
            if target.exists() and not force:
                sink.add(SpecError(f"{target} already exists", Location("--out"), hint="pass --force to overwrite it"))
                break
    sink.raise_if_any()
    return targets
