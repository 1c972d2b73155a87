"""The structure of a spec file, as pydantic models.

These models check the shape of what a user wrote (keys, types, ranges) and give the JSON
Schema (`archspec schema`). Op arguments are checked later, once `${...}` expressions are
evaluated, against each op's own argument model in the op registry.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictFloat, StrictInt, Tag,
                      field_validator, model_validator)

from archspec import limits
from archspec.spec.labels import LABEL_SETS, unique_names

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
EXPR = r"^\s*\$\{.*\}\s*$"

Scalar = Union[StrictBool, StrictInt, StrictFloat, str, None]
IntOrExpr = Union[StrictInt, str]

# Keys of a graph entry that are not op arguments / block params.
NODE_KEYS = ("id", "op", "block", "in", "repeat", "first", "when", "doc")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamDecl(_Strict):
    """Long form of a parameter: `width: {default: 1.0, min: 0.25, doc: width multiplier}`."""

    type: Optional[Literal["int", "float", "bool", "str"]] = Field(None, description="defaults to the type of `default`")
    default: Scalar = Field(None, description="omit to make the parameter required")
    choices: Optional[list[Scalar]] = None
    min: Optional[Union[StrictInt, StrictFloat]] = None
    max: Optional[Union[StrictInt, StrictFloat]] = None
    doc: str = ""

    @model_validator(mode="after")
    def _typed(self) -> "ParamDecl":
        if self.type is None and "default" not in self.model_fields_set:
            raise ValueError("a parameter without a default needs a type (int, float, bool or str)")
        kind = self.type or {bool: "bool", int: "int", float: "float", str: "str"}.get(type(self.default))
        is_expr = isinstance(self.default, str) and "${" in self.default
        if (self.min is not None or self.max is not None) and kind not in ("int", "float") and not is_expr:
            raise ValueError(f"min and max apply to int and float params, not to {kind}")
        return self


ParamValue = Union[ParamDecl, Scalar]


class NodeDef(BaseModel):
    """One graph entry: an op or a block, with its arguments as the remaining keys."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: Optional[str] = Field(None, pattern=IDENT, max_length=limits.ID_CHARS,
                              description="name other nodes use to refer to this one")
    op: Optional[str] = Field(None, description="an op from `archspec ops`")
    block: Optional[str] = Field(None, description="a block defined under `blocks:` or imported")
    in_: Optional[Union[str, list[str]]] = Field(
        None, alias="in", description="input node(s) by id; default: the previous entry")
    repeat: Optional[IntOrExpr] = Field(None, description="repeat the entry N times in a chain; names get .0, .1, ...")
    first: Optional[dict[str, Any]] = Field(None, description="argument overrides for the first repetition")
    when: Optional[Union[StrictBool, str]] = Field(
        None, description="false: the entry is skipped and passes its input through")
    doc: Optional[str] = None

    @model_validator(mode="after")
    def _op_or_block(self) -> "NodeDef":
        if (self.op is None) == (self.block is None):
            raise ValueError("each graph entry needs exactly one of 'op' or 'block'")
        if self.first is not None and self.repeat is None:
            raise ValueError("'first' only makes sense with 'repeat'")
        return self


class BlockDef(_Strict):
    """A reusable, parameterized subgraph."""

    doc: str = ""
    params: dict[str, ParamValue] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=lambda: ["in"], min_length=1, description="names of the block's inputs")
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    graph: list[NodeDef] = Field(min_length=1)
    output: Optional[str] = Field(None, description="id of the node whose value the block returns; default: the last")


# ImageNet's per-channel statistics on 0..1 pixel values (RGB): the default normalization.
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

Byte = Annotated[StrictInt, Field(ge=0, le=255)]


def _kind(value: Any) -> str | None:
    """Pick the member of a union by the kind of YAML value, so a mistake gets one message (for
    the member the user meant) instead of one per member. Tags are names the error locator drops."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, int) and not isinstance(value, bool):
        return "int"
    if isinstance(value, list):
        return "list[str]"
    if isinstance(value, (dict, BaseModel)):
        return "LabelDef"
    return None


Unit = Annotated[StrictFloat, Field(ge=0, le=1)]  # strict floats still accept 0 and 1, never true or "0.5"
PositiveUnit = Annotated[StrictFloat, Field(gt=0, le=1)]


class PreprocessDef(_Strict):
    """How `archspec predict` turns an image into the input tensor: resize, then
    (pixel / 255 - mean) / std per channel."""

    resize: Literal["letterbox", "stretch", "none"] = Field(
        "letterbox", description="letterbox: scale to fit keeping the aspect ratio and pad with pad_value; "
                                 "stretch: scale to the input size; none: images must have the input size")
    mean: list[Unit] = Field(default_factory=lambda: list(IMAGENET_MEAN), min_length=1,
                             description="per channel (or one for all), on the 0..1 pixel scale")
    std: list[PositiveUnit] = Field(default_factory=lambda: list(IMAGENET_STD), min_length=1,
                                    description="per channel (or one for all), on the 0..1 pixel scale")
    pad_value: Optional[Annotated[
        Union[Annotated[Byte, Tag("int")], Annotated[list[Byte], Tag("list[str]")]],
        Discriminator(_kind, custom_error_type="pad_value",
                      custom_error_message="expected one 0..255 value or one per channel, e.g. [124, 116, 104]"),
    ]] = Field(
        None, description="letterbox padding colour, 0..255 per channel; default: the mean colour")
    channel_order: Literal["RGB", "BGR"] = Field("RGB", description="order of the colour channels the model reads")
    interpolation: Literal["bilinear", "bicubic", "nearest"] = Field(
        "bilinear", description="resampling used to resize the image")


class LabelDef(_Strict):
    """A class with an explicit colour: {name: road, color: [128, 64, 128]}."""

    name: str = Field(min_length=1)
    color: Optional[list[Byte]] = Field(None, min_length=3, max_length=3, description="RGB, 0..255")


LabelItem = Annotated[
    Union[Annotated[str, Tag("str")], Annotated[LabelDef, Tag("LabelDef")]],
    Discriminator(_kind, custom_error_type="label",
                  custom_error_message="expected a class name or a mapping like {name: road, color: [128, 64, 128]}"),
]
LabelsValue = Annotated[
    Union[Annotated[str, Tag("str")], Annotated[list[LabelItem], Field(min_length=1), Tag("list[str]")]],
    Discriminator(_kind, custom_error_type="labels",
                  custom_error_message="expected a label set (voc, cityscapes) or a list of class names"),
]


class SpecFile(_Strict):
    """An archspec spec (or block library) file."""

    archspec: Literal[1] = Field(description="format version; this archspec reads 1")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    imports: list[str] = Field(default_factory=list, description=(
        "block libraries: a path looked up beside this file, then on ARCHSPEC_PATH, then in the installed "
        "library; archspec:lib/resnet.yaml names the installed library"))
    extends: Optional[str] = Field(None, description=(
        "a spec this one builds on, found as imports are (archspec:deeplabv3p.yaml: the installed spec)"))
    params: dict[str, ParamValue] = Field(default_factory=dict)
    input: Optional[dict[str, list[IntOrExpr]]] = Field(None, description="named NCHW input shapes")
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-op default arguments")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    graph: Optional[list[NodeDef]] = None
    patch: dict[str, Optional[dict[str, Any]]] = Field(
        default_factory=dict, description="with extends: argument changes for the parent's nodes by id "
                                          "({k: null} drops an argument; id: null removes the node)")
    outputs: Optional[list[str]] = Field(None, min_length=1,
                                         description="ids of the output nodes; default: the last node")
    preprocess: Optional[PreprocessDef] = Field(
        None, description="for archspec predict: how an image becomes the input tensor")
    labels: Optional[LabelsValue] = Field(
        None, description="class names of the output channels: voc, cityscapes, or a list of names "
                          "(or {name, color} mappings)")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v):
        if isinstance(v, str):
            if v not in LABEL_SETS:
                from archspec.errors import did_you_mean

                known = ", ".join(f"{k} ({n} classes)" for k, n in LABEL_SETS.items())
                close = did_you_mean(v, LABEL_SETS)
                raise ValueError(f"unknown label set '{v}' (built in: {known})"
                                 + (f"; {close}" if close.startswith("did") else ""))
        elif v is not None:
            names = [item if isinstance(item, str) else item.name for item in v]
            if any(not n.strip() for n in names):
                raise ValueError("a class name cannot be empty")
            dups = unique_names(names)
            if dups:
                raise ValueError("class names must be unique; repeated: " + ", ".join(repr(d) for d in dups))
        return v
