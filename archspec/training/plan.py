"""A training run's plan: everything `archspec train` checked before anything slow, as plain data.

It is written to `RUN/run.json` when a run starts; msrun workers read it to run the same plan, and
`--resume RUN` reads it to continue. No MindSpore.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from archspec.data.loader import Task
from archspec.data.transforms import ClsAugment, SegAugment
from archspec.errors import Location, SpecError
from archspec.files import atomic_path
from archspec.training.recipe import Recipe

RUN_FILE = "run.json"
FORMAT = 1


@dataclass
class Plan:
    spec: str  # absolute path of the spec file
    spec_name: str
    spec_sha256: str
    spec_overrides: dict
    data: str  # absolute path
    layout: str
    train_split: str
    val_split: str | None  # None: no evaluation
    n_train: int
    classes: list[str]  # class folders (classification), else []
    num_classes: int
    task: str  # segmentation or classification
    recipe_source: str
    recipe: dict  # the recipe's values after --set
    recipe_overrides: dict
    total_steps: int
    eval_size: list[int] | None  # segmentation eval input (height, width)
    out: str  # the run folder (absolute)
    weights: str | None = None
    allow_nonfinite: bool = False  # starting weights may hold NaN or inf (--allow-nonfinite)
    device: str = "CPU"
    mode: str = "graph"
    workers: int = 1
    format: int = FORMAT
    notes: list[str] = field(default_factory=list)

    @property
    def recipe_model(self) -> Recipe:
        return Recipe.model_validate(self.recipe)

    def save(self, folder: Path) -> Path:
        path = folder / RUN_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


def load_plan(folder: Path, option: str = "--resume") -> Plan:
    path = folder / RUN_FILE
    if not path.is_file():
        raise SpecError(f"{folder} is not a training run (no {RUN_FILE})", Location(option),
                        hint="give the folder a previous `archspec train --out RUN` wrote")
    if path.stat().st_size > 16 * 1024 * 1024:
        raise SpecError(f"{path} is too large to be a run file", Location(str(path)))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        known = set(Plan.__dataclass_fields__)
        return Plan(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read the run file: {e}", Location(str(path))) from None


def task_of(graph, spec) -> tuple[str, int]:
    """("segmentation" or "classification", number of classes) from the shape of the first output."""
    out = graph.outputs[0]
    shape = graph.shape_of(out)
    if len(shape) == 4:
        return "segmentation", shape[1]
    if len(shape) == 2:
        return "classification", shape[1]
    raise SpecError(f"archspec trains segmentation nets (output N, classes, H, W) and classifiers (N, classes); "
                    f"output '{out}' is {list(shape)}", Location(spec.file), "outputs")


def make_task(plan: Plan, pre) -> Task:
    """The sample transform for a plan, with the spec's preprocessing."""
    r = plan.recipe_model
    if plan.task == "classification":
        aug = ClsAugment(crop=r.crop, scale=tuple(r.scale_range), flip=r.flip, crop_pct=r.crop_pct)
    else:
        aug = SegAugment(crop=r.crop, scale=tuple(r.scale_range), flip=r.flip, ignore_index=r.ignore_index)
    return Task(plan.task, pre, plan.num_classes, aug, r.ignore_index)
