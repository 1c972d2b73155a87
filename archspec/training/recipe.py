"""A training recipe: a small, flat YAML file validated like a spec (positions on every error,
did-you-mean for unknown keys, `--set key=value` overrides):

    archrecipe: 1
    description: DeepLabV3+ on Pascal VOC 2012 (VainF's settings)
    optimizer: sgd
    lr: 0.01
    schedule: poly
    iterations: 30000
    batch_size: 16
    crop_size: 513

`load_recipe(path_or_name, overrides)` reads a file, or a shipped recipe by name
(`specs/recipes/<name>.yaml`). Flat keys keep `--set lr=0.02` as short as a spec param. No
MindSpore: the recipe is checked before anything slow starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictBool, ValidationError, field_validator

from archspec.errors import Location, SpecError, SpecErrors, did_you_mean
from archspec.ops.common import FiniteFloat, NonNegInt, PosFiniteFloat, PosInt
from archspec.spec.loader import pydantic_errors
from archspec.spec.yamlsrc import SMap, load_yaml, read_text

MAX_SET_CHARS = 1000
MAX_LR = 1000.0


class Recipe(BaseModel):
    """Every training setting. Lengths are in optimizer steps ("iterations") of one global batch."""

    model_config = ConfigDict(extra="forbid")

    archrecipe: Literal[1] = Field(description="format version")
    description: str = ""
    # -- optimizer
    optimizer: Literal["sgd", "adamw"] = Field("sgd", description="sgd: SGD with momentum; adamw: AdamW")
    lr: PosFiniteFloat = Field(0.01, description="peak learning rate (after warm-up)")
    momentum: FiniteFloat = Field(0.9, ge=0, lt=1, description="sgd")
    nesterov: StrictBool = Field(False, description="sgd")
    betas: list[FiniteFloat] = Field([0.9, 0.999], min_length=2, max_length=2, description="adamw")
    eps: PosFiniteFloat = Field(1e-8, description="adamw")
    weight_decay: FiniteFloat = Field(1e-4, ge=0)
    decay_bn_and_bias: StrictBool = Field(True, description="false: no weight decay on BatchNorm and biases")
    # -- learning-rate schedule
    schedule: Literal["poly", "cosine", "constant"] = "poly"
    power: PosFiniteFloat = Field(0.9, description="poly: lr * (1 - step / steps) ** power (DeepLab)")
    min_lr: FiniteFloat = Field(0.0, ge=0, description="the schedule's floor")
    warmup_iterations: NonNegInt = Field(0, description="linear warm-up steps before the schedule")
    warmup_factor: FiniteFloat = Field(0.1, gt=0, le=1, description="warm-up starts at lr * warmup_factor")
    # -- length: exactly one of the two
    iterations: Optional[PosInt] = Field(None, description="optimizer steps in all")
    epochs: Optional[PosInt] = Field(None, description="passes over the training split")
    # -- data
    batch_size: PosInt = Field(16, description="global batch (all workers together)")
    crop_size: Union[int, list[int]] = Field(513, description="training input: side, or [height, width]")
    scale_range: list[PosFiniteFloat] = Field([0.5, 2.0], min_length=2, max_length=2,
                                              description="segmentation: random scale; classification: crop area "
                                                          "fraction")
    flip: StrictBool = Field(True, description="random horizontal flip")
    crop_pct: FiniteFloat = Field(0.875, gt=0, le=1, description="classification eval: resize to crop / crop_pct")
    data_workers: PosInt = Field(2, le=64, description="data loading processes per training process")
    # -- loss
    loss: Literal["cross_entropy"] = "cross_entropy"
    ignore_index: NonNegInt = Field(255, le=65535, description="mask label that never counts")
    class_weights: Optional[list[FiniteFloat]] = Field(None, description="one weight per class")
    label_smoothing: FiniteFloat = Field(0.0, ge=0, lt=1)
    # -- model
    freeze_bn: StrictBool = Field(False, description="BatchNorm keeps its moving statistics and affine params")
    amp_level: Literal["O0", "O2"] = Field("O0", description="O0: float32 (CPU); O2: float16 with loss scaling "
                                                              "(Ascend)")
    loss_scale: FiniteFloat = Field(1024.0, ge=1, le=2.0 ** 24, description="O2: initial dynamic loss scale")
    # -- evaluation, checkpoints, log
    eval_interval: NonNegInt = Field(0, description="evaluate every N steps (0: only at the end)")
    eval_size: Optional[Union[int, list[int]]] = Field(
        None, description="segmentation eval input; default: the largest image of the eval split")
    eval_batch: PosInt = Field(1)
    checkpoint_interval: NonNegInt = Field(0, description="write last.ckpt every N steps (0: at each eval and "
                                                          "at the end)")
    log_interval: PosInt = Field(10)
    seed: NonNegInt = Field(0)
    _locs: dict = PrivateAttr(default_factory=dict)  # key -> where load_recipe found its value
    _source: str = PrivateAttr("")  # the recipe file

    def loc(self, key: str) -> Location:
        """Where `key`'s value was given (its file:line:col, or --set); the recipe file for a default."""
        return self._locs.get(key, Location(self._source))

    @field_validator("lr")
    @classmethod
    def _lr(cls, v: float) -> float:
        if v > MAX_LR:  # float32 learning rates overflow long before anything is learned
            raise ValueError(f"at most {MAX_LR:g}; got {v:g}")
        return v

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: list[float]) -> list[float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"two decay rates, each at least 0 and below 1; got {v}")
        return v

    @field_validator("scale_range")
    @classmethod
    def _scale_range(cls, v: list[float]) -> list[float]:
        if not v[0] <= v[1]:
            raise ValueError(f"[low, high] with low <= high; got {v}")
        return v

    @field_validator("crop_size", "eval_size")
    @classmethod
    def _sizes(cls, v):
        _size(v)
        return v

    @field_validator("class_weights")
    @classmethod
    def _weights(cls, v):
        if v is not None and any(w < 0 for w in v):
            raise ValueError("weights must not be negative")
        return v

    @property
    def crop(self) -> tuple[int, int]:
        return _size(self.crop_size)

    @property
    def eval_hw(self) -> tuple[int, int] | None:
        return _size(self.eval_size) if self.eval_size is not None else None

    def total_steps(self, n_samples: int) -> int:
        if self.iterations is not None:
            return self.iterations
        return self.epochs * max(1, n_samples // self.batch_size)

    def values(self) -> dict[str, Any]:
        return self.model_dump()


MAX_SIDE = 16384  # pixels: a crop or evaluation side beyond any camera's


def _size(value) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(pair, list) or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or not 8 <= v <= MAX_SIDE for v in pair)):
        raise ValueError(f"one side or [height, width], each from 8 to {MAX_SIDE}; got {value}")
    return pair[0], pair[1]


def _cross_checks(r: Recipe, raw: SMap) -> list[SpecError]:
    """Checks between keys, each placed at the key that has to change (in the file or on --set)."""
    errors = []
    if (r.iterations is None) == (r.epochs is None):
        key = "epochs" if "epochs" in raw else "iterations"
        errors.append(SpecError("give exactly one of iterations and epochs", raw.value_loc(key), key,
                                "remove one of them (--set epochs=N replaces the recipe's iterations)"))
    if r.iterations is not None and r.warmup_iterations > r.iterations:
        errors.append(SpecError(f"warmup_iterations {r.warmup_iterations} is longer than the run's "
                                f"{r.iterations} iterations", raw.value_loc("warmup_iterations"), "warmup_iterations"))
    if r.min_lr > r.lr:
        errors.append(SpecError(f"min_lr {r.min_lr} is above lr {r.lr}", raw.value_loc("min_lr"), "min_lr",
                                "the schedule's floor must not be above its peak"))
    return errors


def shipped() -> list[str]:
    folder = recipes_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder else []


def find_recipe(name_or_path: str | Path, option: str = "--recipe") -> Path:
    """A recipe file: a path, or the name of a shipped recipe (specs/recipes/<name>.yaml)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    folder = recipes_dir()
    if folder and p.suffix == "" and (folder / f"{p.name}.yaml").exists() and len(p.parts) == 1:
        return folder / f"{p.name}.yaml"
    raise SpecError(f"recipe '{name_or_path}' not found", Location(option),
                    hint=did_you_mean(str(name_or_path), shipped()) or
                    "give a recipe file, or one of the shipped recipes: " + ", ".join(shipped()))


def _parse_set(key: str, text: Any) -> Any:
    """A `--set` value as YAML (1e-3, true, [0.5, 2.0]); Python values pass through."""
    if not isinstance(text, str):
        return text
    if len(text) > MAX_SET_CHARS:
        raise SpecError(f"--set {key}: value longer than {MAX_SET_CHARS} characters", Location("--set"))
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # YAML 1.1 reads 1e-3 as a string; recipes expect numbers there
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_recipe(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None, *,
                option: str = "--recipe", override_source: str = "--set") -> Recipe:
    """Read and validate a recipe; `overrides` (key -> value or CLI text) replace its keys."""
    path = find_recipe(name_or_path, option)
    shown = str(path)
    raw = load_yaml(read_text(path, shown, "recipe file"), shown, empty_hint="a recipe starts with 'archrecipe: 1'")
    if not isinstance(raw, SMap):
        raise SpecError("a recipe must be a YAML mapping of keys", getattr(raw, "loc", Location(shown, 1, 1)),
                        hint="start with 'archrecipe: 1' and one key per line")
    fields = list(Recipe.model_fields)
    where = Location(override_source)
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise SpecError(f"unknown recipe key '{key}'", where, "",
                            did_you_mean(key, fields) or "see the keys in specs/recipes/*.yaml")
        raw[key] = _parse_set(key, value)
        raw.key_locs[key] = raw.value_locs[key] = where
    for key, other in (("epochs", "iterations"), ("iterations", "epochs")):
        if key in (overrides or {}) and other not in (overrides or {}):
            raw.pop(other, None)  # --set epochs=3 replaces the recipe's length, whichever unit it used
    try:
        recipe = Recipe.model_validate(raw)
        recipe._locs, recipe._source = dict(raw.value_locs), shown
        errors = _cross_checks(recipe, raw)
    except ValidationError as e:
        errors = pydantic_errors(e, raw, Recipe)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)
    return recipe


def recipes_dir() -> Path | None:
    """The shipped recipes: `recipes/` of the installed library (a wheel or the source checkout)."""
    from archspec.spec.library import installed_root

    root = installed_root()
    return root / "recipes" if root is not None and (root / "recipes").is_dir() else None
