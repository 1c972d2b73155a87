"""Every check of a training run before anything slow, and the Plan it leaves: a new run
(`plan_run`) or a resumed one (`resume_plan`). No MindSpore; user mistakes raise SpecError.

`overrides` holds both spec params and recipe keys (`--set` on the command line); a key both know
is written `spec.NAME` or `recipe.NAME`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from archspec.errors import ErrorSink, Location, SpecError, SpecErrors, did_you_mean
from archspec.training.plan import Plan, load_plan, task_of

# The recipe keys that fix which samples each step sees: a resumed run keeps them.
_ORDER_KEYS = ("batch_size", "seed", "crop_size")
_RECIPE_FOR = {"voc": "voc_deeplabv3p", "list": "voc_deeplabv3p", "cityscapes": "cityscapes_deeplabv3p",
               "folders": "imagenet_classifier"}


def default_recipe(layout: str) -> str:
    """The shipped recipe for a dataset layout."""
    return _RECIPE_FOR[layout]


def split_overrides(overrides: Mapping[str, Any] | None, spec_params) -> tuple[dict, dict]:
    """Route `--set` keys to the recipe or the spec; unknown keys get a did-you-mean over both."""
    from archspec.training.recipe import Recipe

    recipe_keys = set(Recipe.model_fields)
    spec, recipe = {}, {}
    for key, value in (overrides or {}).items():
        head, dot, rest = key.partition(".")
        if dot and head in ("spec", "recipe"):
            (spec if head == "spec" else recipe)[rest] = value
        elif key in recipe_keys and key in spec_params:
            raise SpecError(f"'{key}' is both a spec param and a recipe key", Location("--set"),
                            hint=f"write --set spec.{key}=... or --set recipe.{key}=...")
        elif key in recipe_keys:
            recipe[key] = value
        elif key in spec_params:
            spec[key] = value
        else:
            raise SpecError(f"'{key}' is neither a param of the spec nor a recipe key", Location("--set"),
                            hint=did_you_mean(key, list(recipe_keys) + list(spec_params)) or
                            "spec params: " + ", ".join(spec_params))
    return spec, recipe


def _load_spec(spec, overrides: dict):
    if isinstance(spec, (str, Path)):
        from archspec.spec.loader import load

        return load(spec, overrides, override_source="--set")
    if overrides:
        raise SpecError("overrides of spec params need the spec's path, not a loaded Spec", Location("--set"))
    return spec


def _spec_params(spec) -> dict:
    """The params a spec declares (read without evaluating them: a required one may come by --set)."""
    if not isinstance(spec, (str, Path)):
        return spec.params
    from archspec.spec.loader import declared_params

    return declared_params(spec)


def _check_weights(weights: str | Path | None) -> str | None:
    if weights is None:
        return None
    p = Path(weights)
    if not p.is_file():
        raise SpecError("starting weights not found" if not p.exists() else "not a file", Location(str(p)),
                        hint="give --weights a MindSpore .ckpt in the spec's names")
    if p.suffix.lower() in (".pth", ".pt", ".bin", ".npz"):
        raise SpecError("this looks like PyTorch/NumPy weights, not a MindSpore checkpoint", Location(str(p)),
                        hint=f"convert them first: archspec weights import SPEC {p} --out start.ckpt")
    return str(p.resolve())


def _run_folder(out: str | Path | None, spec_name: str, check: bool) -> Path:
    if out is None:
        base = Path("runs") / spec_name
        folder, i = base, 2
        while folder.exists() and any(folder.iterdir()):
            folder = Path(f"{base}-{i}")
            i += 1
    else:
        folder = Path(out)
    if check:
        if folder.exists() and not folder.is_dir():
            raise SpecError(f"{folder} is a file", Location("--out"), hint="give a folder for the run")
        if folder.exists() and any(folder.iterdir()):
            raise SpecError(f"{folder} already holds files", Location("--out"),
                            hint=f"continue that run with --resume {folder}, or choose another --out")
        from archspec.files import make_folder

        make_folder(folder)
    return folder.resolve()


def plan_run(spec, data, recipe=None, *, weights=None, out=None, workers: int = 1, overrides=None,
             layout: str | None = None, train_split: str = "train", val_split: str | None = "val",
             device: str = "CPU", mode: str = "graph", rank: int = 0, allow_nonfinite: bool = False) -> Plan:
    """Every check of a new run; the Plan (not yet written)."""
    from archspec.data.layouts import detect_layout, open_split
    from archspec.data.scan import scan_split
    from archspec.runtime.host import canonical_device
    from archspec.training.recipe import find_recipe, load_recipe

    spec_over, recipe_over = split_overrides(overrides, _spec_params(spec))
    loaded = _load_spec(spec, spec_over)
    from archspec.graph import spec_graph

    graph = spec_graph(loaded)
    task, num_classes = task_of(graph, loaded)
    root = Path(data)
    layout = layout or detect_layout(root)
    recipe_path = str(find_recipe(recipe or default_recipe(layout)))
    r = load_recipe(recipe_path, recipe_over)
    device = canonical_device(device)
    sink = ErrorSink()
    if r.amp_level == "O2" and device != "Ascend":
        sink.add(SpecError(f"amp_level O2 (float16 with loss scaling) runs on Ascend, not on {device}",
                           r.loc("amp_level"), hint="use amp_level: O0 (float32) here: --set amp_level=O0"))
    if workers < 1 or r.batch_size % workers:
        sink.add(SpecError(f"batch_size {r.batch_size} does not split evenly over {workers} workers",
                           Location("--workers"), hint="the batch is global: make it a multiple of the workers"))
    if task == "segmentation" and r.ignore_index < num_classes:
        sink.add(SpecError(f"ignore_index {r.ignore_index} is one of the {num_classes} classes (0..{num_classes - 1})",
                           r.loc("ignore_index"),
                           hint=f"the ignore label must not be a class: use 255 (or at least {num_classes})"))
    if r.class_weights is not None and len(r.class_weights) != num_classes:
        sink.add(SpecError(f"class_weights has {len(r.class_weights)} values for {num_classes} classes",
                           r.loc("class_weights")))
    kind = "classification" if layout == "folders" else "segmentation"
    if kind != task:
        sink.add(SpecError(f"the {layout} dataset is for {kind} but spec '{loaded.name}' is a {task} net",
                           Location("--data"), hint="classifier specs train on class folders, segmentation specs on "
                                                     "VOC, Cityscapes or list layouts"))
    sink.raise_if_any()
    train = open_split(root, train_split, layout)
    classes = train.classes
    if task == "classification" and len(classes) != num_classes:
        raise SpecError(f"the dataset has {len(classes)} classes but the spec's output has {num_classes}",
                        Location("--data"), hint=f"build the spec for them: --set num_classes={len(classes)}")
    name, shape = next(iter(graph.inputs.items()))
    spec_graph(loaded, {name: (r.batch_size // workers, shape[1], *r.crop)},  # the net builds at the crop
               size_loc=r.loc("crop_size"), size_fix="use a smaller crop_size or batch_size")
    if len(train) < r.batch_size:
        raise SpecError(f"the split '{train_split}' has {len(train)} samples, fewer than one batch of {r.batch_size}",
                        Location("--data"), hint="lower the batch: --set batch_size=N")
    data_errors = ErrorSink(cap=50)  # both splits' problems in one report: one fix-and-rerun, not two
    scan_split(train, sink=data_errors)
    val, sizes, eval_size, notes = None, None, None, []
    if val_split:
        try:
            val = open_split(root, val_split, layout, classes=classes or None)
        except (SpecError, SpecErrors) as e:
            if val_split != "val" or isinstance(e, SpecErrors):
                data_errors.add(e)
            else:
                notes.append(f"no evaluation: {e.message}")
    if val is not None:
        sizes = scan_split(val, sink=data_errors)
    data_errors.raise_if_any()
    if val is not None:
        if task == "segmentation":
            eval_size = list(r.eval_hw or sizes.largest)
            too_big = [(s, wh) for s, wh in zip(val.samples, sizes.sizes)
                       if wh[1] > eval_size[0] or wh[0] > eval_size[1]]
            if too_big:
                s, (w, h) = too_big[0]
                raise SpecError(f"{len(too_big)} {val_split} image(s) are larger than eval_size "
                                f"{eval_size[0]}x{eval_size[1]}, e.g. {s.image} ({w}x{h})",
                                r.loc("eval_size"),
                                hint="evaluation pads images, never shrinks them: raise eval_size or leave it unset "
                                     "(the largest image)")
            spec_graph(loaded, {name: (r.eval_batch, shape[1], *eval_size)},
                       size_loc=r.loc("eval_size") if r.eval_size else Location("--data"),
                       size_fix="evaluate fewer images at once (eval_batch); images larger than eval_size are "
                                "refused, not shrunk")
    weights = _check_weights(weights)
    folder = _run_folder(out, loaded.name, check=rank == 0)  # created last: a mistake above leaves no folder
    return Plan(
        spec=str(Path(loaded.file).resolve()), spec_name=loaded.name, spec_sha256=loaded.sha256,
        spec_overrides=dict(spec_over), data=str(root.resolve()), layout=layout, train_split=train_split,
        val_split=val.name if val is not None else None, n_train=len(train), classes=list(classes),
        num_classes=num_classes, task=task, recipe_source=recipe_path, recipe=r.values(),
        recipe_overrides=dict(recipe_over), total_steps=r.total_steps(len(train)), eval_size=eval_size,
        out=str(folder), weights=weights, allow_nonfinite=allow_nonfinite, device=device, mode=mode, workers=workers,
        notes=notes)


def resume_plan(run: str | Path, spec=None, overrides=None, workers: int | None = None) -> Plan:
    """The saved plan of a run, with the allowed changes (more steps, another lr, ...)."""
    from archspec.training.checkpoints import LAST
    from archspec.training.recipe import load_recipe

    folder = Path(run)
    plan = load_plan(folder)
    if not (folder / LAST).is_file():
        raise SpecError(f"{folder} has no {LAST} to resume from", Location("--resume"),
                        hint="the run stopped before its first checkpoint: start it again")
    if spec is not None:
        name = _load_spec(spec, dict(plan.spec_overrides)).name if isinstance(spec, (str, Path)) else spec.name
        if name != plan.spec_name:
            raise SpecError(f"run {folder} trains '{plan.spec_name}', not '{name}'", Location("--resume"))
    spec_over, recipe_over = split_overrides(overrides, _spec_params(plan.spec))
    # the command that started the run, with --resume added, resumes it: repeating a value is no change
    if any(str(v) != str(plan.spec_overrides.get(k)) for k, v in spec_over.items()):
        raise SpecError("a resumed run keeps its spec params", Location("--set"),
                        hint=f"the run was started with {plan.spec_overrides or 'no --set values'}")
    merged = {**plan.recipe_overrides, **recipe_over}
    r = load_recipe(plan.recipe_source, merged)
    changed = [k for k in _ORDER_KEYS if r.values()[k] != plan.recipe.get(k)]
    if changed:
        raise SpecError(f"a resumed run keeps {', '.join(changed)} (they decide which samples each step sees)",
                        Location("--set"), hint="start a new run to change them")
    workers = workers or plan.workers
    if r.batch_size % workers:
        raise SpecError(f"batch_size {r.batch_size} does not split evenly over {workers} workers",
                        Location("--workers"))
    # the folder named, wherever the run was started (a copied or moved run continues where it is now)
    return replace(plan, recipe=r.values(), recipe_overrides=merged, total_steps=r.total_steps(plan.n_train),
                   workers=workers, out=str(folder.resolve()))
