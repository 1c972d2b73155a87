"""The op registry: one entry per op holds its argument model, shape rule, parameter table, MAC
rule and lowering.

Adding an op means writing one module in `archspec/ops/` that calls `register(...)` (and one line
in `builtin.py`). Nothing here imports MindSpore: each op's `lower` function imports it when it
is called, so validation and graph resolution stay fast.

Parameters are owned here, not by the lowering: `OpDef.parameters(args, in_shapes)` returns
the node's parameters as an ordered mapping local name -> `Param(shape, trainable, role)`, with
exactly the names and the order of the Cell that `lower` builds (`conv.weight`, `conv.bias`,
`batchnorm.moving_mean`, ...; a SpecNet names them `<node>.<local>`). The parameter COUNT a
node reports (`OpDef.cost`) is derived from that table, so the two cannot disagree, and
`Graph.parameters()` gives every name and shape of a network without building it.
tests/ops/test_param_registry.py checks the table against the built Cells of every shipped spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, NamedTuple, Optional

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    from archspec.graph.ir import Node, Shape

ACTIVATIONS = ("relu", "relu6", "leakyrelu", "hswish", "hsigmoid", "sigmoid", "tanh", "gelu", "silu")
Activation = Optional[Literal["relu", "relu6", "leakyrelu", "hswish", "hsigmoid", "sigmoid", "tanh", "gelu", "silu"]]


class OpArgs(BaseModel):
    """Base of every op's argument model: unknown arguments are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ShapeError(Exception):
    """A shape or channel mistake found while inferring a node; resolve positions it.

    `arg` names the argument at fault (its YAML value is pointed at); None points at the node.

    Naming inputs: an op's `infer` only sees shapes, not which nodes produced them. Messages and
    hints name an input by its position with the placeholders `{in0}`, `{in1}`, ... (0-based,
    in `in` order), e.g. "got {in0} [1, 2048, 33, 33] and {in4} [1, 256, 1, 1]". The resolver
    replaces them by the producers' names: `err.named(node_inputs)` does that, and so does
    `message.format(in0=..., in1=...)`. Keep messages free of any other braces so both agree
    (shapes are written as lists, [1, 256, 33, 33]).
    """

    def __init__(self, message: str, hint: str = "", arg: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.arg = arg

    def named(self, input_names: list[str]) -> "ShapeError":
        """A copy with the `{inK}` placeholders replaced by the names of the node's inputs."""

        def sub(text: str) -> str:
            for i, name in enumerate(input_names):
                text = text.replace("{in%d}" % i, str(name))
            return text

        return ShapeError(sub(self.message), sub(self.hint), self.arg)


class Param(NamedTuple):
    """One parameter of a node, as its op's `parameters` rule declares it.

    `trainable`: counted in the node's parameters (what PyTorch's `parameters()` holds); BatchNorm
    running statistics are not (buffers in PyTorch, `requires_grad=False` in MindSpore).
    `role` says what the tensor is, so passes and foreign-layout code need no names:
    "weight", "bias" (of a conv, transposed conv or dense layer), "bn_gamma", "bn_beta",
    "bn_mean", "bn_var" (of a BatchNorm, alone or inside a conv unit), "gamma", "beta" (the
    affine scale and shift of a group or layer norm).
    """

    shape: tuple[int, ...]
    trainable: bool = True
    role: str = "weight"


ParamTable = dict[str, Param]  # local name (inside the node's Cell) -> Param, in the Cell's order


def bn_params(prefix: str, channels: int) -> ParamTable:
    """The four tensors of a MindSpore BatchNorm2d with `channels` channels, under `prefix`
    ("batchnorm." inside a conv unit, "" for a batchnorm node), in its registration order."""
    c = (int(channels),)
    return {f"{prefix}moving_mean": Param(c, False, "bn_mean"), f"{prefix}moving_variance": Param(c, False, "bn_var"),
            f"{prefix}gamma": Param(c, True, "bn_gamma"), f"{prefix}beta": Param(c, True, "bn_beta")}


def trainable_count(table: ParamTable) -> int:
    """Number of trainable values in a parameter table (what a node's `params` counts)."""
    total = 0
    for p in table.values():
        if p.trainable:
            n = 1
            for d in p.shape:
                n *= int(d)
            total += n
    return total


def _no_parameters(args: OpArgs, in_shapes: list["Shape"]) -> ParamTable:
    return {}


def _no_macs(args: OpArgs, in_shapes: list["Shape"], out_shape: "Shape") -> int:
    return 0


def _no_completion(args: OpArgs, in_shapes: list["Shape"]) -> OpArgs:
    return args


def _plain_kind(node: "Node") -> str:
    return node.op


def _exports_everywhere(node: "Node", fmt: str, options: dict[str, str]) -> str:
    return ""


@dataclass(frozen=True)
class OpDef:
    name: str
    args: type[OpArgs]
    infer: Callable[[Any, list["Shape"]], "Shape"]  # -> output shape; raises ShapeError
    lower: Callable[["Node"], Any]  # -> mindspore.nn.Cell taking the inputs positionally
    # -> the node's parameters, local name -> Param, exactly as the lowered Cell names and orders
    # them (see the module docstring); ops without parameters keep the default
    parameters: Callable[[Any, list["Shape"]], ParamTable] = _no_parameters
    # -> multiply-adds (the convention in ops/common.py: convolutions and dense layers only)
    macs: Callable[[Any, list["Shape"], "Shape"], int] = _no_macs
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number
    doc: str = ""
    # Fills arguments that depend on the input shape (depthwise groups, pool stride = k, ...)
    # so that infer, cost and lower all see concrete values.
    complete: Callable[[Any, list["Shape"]], Any] = _no_completion
    # Arguments whose values name other nodes or inputs, mapped to the argument that receives
    # that node's (height, width): upsample's {"size_of": "size"}. Resolve checks the names
    # like `in` references, orders the graph after them and fills the receiving argument.
    ref_args: dict[str, str] = field(default_factory=dict)
    kind: Callable[["Node"], str] = _plain_kind
    examples: list[dict] = field(default_factory=list)
    # Lowering choices that compute the same numbers in different ways, chosen when the graph is
    # lowered (the graph and the spec stay the same): option -> allowed values, the first being
    # the default. `build_cell(graph, options={"upsample.bilinear": "matmul"})` passes them to
    # `lower(node, bilinear="matmul")`; ops without options get `lower(node)`.
    lower_options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Why `node`, lowered with `options` (this op's, resolved), cannot be exported to `fmt`
    # ("mindir", "onnx", "air"), or "" when it can. `archspec export` asks every node before
    # writing anything, so an unexportable node is named with its spec position.
    export_check: Callable[["Node", str, dict[str, str]], str] = _exports_everywhere
    # For ops that can carry a BatchNorm (a `bn` argument, as conv and conv_transpose have):
    # (args, weight array, per-output-channel scale) -> the weight scaled per output channel,
    # which is how `graph.passes.fold_bn_weights` folds the BN into the weight. None: cannot.
    scale_out_channels: Optional[Callable[[Any, Any, Any], Any]] = None

    def cost(self, args: Any, in_shapes: list["Shape"], out_shape: "Shape") -> tuple[int, int]:
        """(trainable parameters, MACs) of a node; the count is the parameter table's."""
        return trainable_count(self.parameters(args, in_shapes)), int(self.macs(args, in_shapes, out_shape))


_REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in _REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    _REGISTRY[op.name] = op
    return op


def get(name: str) -> OpDef:
    _load_builtin_ops()
    return _REGISTRY[name]


def names() -> list[str]:
    _load_builtin_ops()
    return sorted(_REGISTRY)


def exists(name: object) -> bool:
    """Whether `name` is a registered op (cheap: the resolver asks for every node)."""
    _load_builtin_ops()
    return isinstance(name, str) and name in _REGISTRY


def all_ops() -> dict[str, OpDef]:
    _load_builtin_ops()
    return dict(_REGISTRY)


def node_parameters(node: "Node") -> ParamTable:
    """The parameter table (local names) of a resolved node."""
    return get(node.op).parameters(node.args, node.in_shapes)


def lower_options(options: dict[str, str] | None) -> dict[str, dict[str, str]]:
    """Check `{"op.option": value}` lowering options; per op, every declared option resolved
    (given or default). Raises SpecError for an unknown op, option or value."""
    from archspec.errors import Location, SpecError, did_you_mean

    given: dict[str, dict[str, str]] = {}
    for key, value in (options or {}).items():
        op_name, _, opt = str(key).partition(".")
        if op_name not in names():
            raise SpecError(f"lowering option '{key}': unknown op '{op_name}'", Location("lowering options"),
                            hint=did_you_mean(op_name, names()))
        declared = get(op_name).lower_options
        if opt not in declared:
            known = [f"{op_name}.{o}" for o in declared]
            raise SpecError(f"unknown lowering option '{key}'", Location("lowering options"),
                            hint=did_you_mean(key, known) if known else f"op '{op_name}' has no lowering options")
        if value not in declared[opt]:
            raise SpecError(f"lowering option '{key}' must be one of {', '.join(declared[opt])}, got {value!r}",
                            Location("lowering options"))
        given.setdefault(op_name, {})[opt] = value
    resolved = {}
    for name, op in all_ops().items():
        if op.lower_options:
            resolved[name] = {o: given.get(name, {}).get(o, choices[0]) for o, choices in op.lower_options.items()}
    return resolved


_loaded = False


def _load_builtin_ops() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from archspec.ops import builtin  # noqa: F401  (registers every built-in op)
