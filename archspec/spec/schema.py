"""The structure of a spec file, as pydantic models.

These models check the shape of what a user wrote (keys, types, ranges) and give the JSON
Schema (`archspec schema`). Op arguments are checked later, once `${...}` expressions are
evaluated, against each op's own argument model in the op registry.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
EXPR = r"^\s*\$\{.*\}\s*$"

Scalar = Union[StrictBool, StrictInt, StrictFloat, str, None]
Ident = Field(pattern=IDENT)
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
        return self


ParamValue = Union[ParamDecl, Scalar]


class NodeDef(BaseModel):
    """One graph entry: an op or a block, with its arguments as the remaining keys."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: Optional[str] = Field(None, pattern=IDENT, description="name other nodes use to refer to this one")
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
    inputs: list[str] = Field(default_factory=lambda: ["in"], description="names of the block's inputs")
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    graph: list[NodeDef] = Field(min_length=1)
    output: Optional[str] = Field(None, description="id of the node whose value the block returns; default: the last")


class SpecFile(_Strict):
    """An archspec spec (or block library) file."""

    archspec: Literal[1] = Field(description="format version; this archspec reads 1")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    imports: list[str] = Field(default_factory=list, description="block libraries, relative to this file")
    extends: Optional[str] = Field(None, description="a spec this one builds on, relative to this file")
    params: dict[str, ParamValue] = Field(default_factory=dict)
    input: Optional[dict[str, list[IntOrExpr]]] = Field(None, description="named NCHW input shapes")
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-op default arguments")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    graph: Optional[list[NodeDef]] = None
    patch: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="with extends: argument overrides for nodes by id (null removes)")
    outputs: Optional[list[str]] = Field(None, description="ids of the output nodes; default: the last node")
