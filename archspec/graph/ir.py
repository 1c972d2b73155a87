"""The typed graph: what a spec resolves to before MindSpore is touched.

Nodes are kept in topological order. Every node knows its op, its validated arguments, the
names of the values it reads, its output shape (NCHW, static), its parameter and MAC counts,
and where in the YAML it came from, so later layers can point at the spec when they fail.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from archspec.errors import Location

Shape = tuple[int, ...]


@dataclass
class Node:
    name: str  # stable hierarchical name ("c3.0.conv2"); parameter names derive from it
    op: str  # key in the op registry
    args: Any  # the op's validated pydantic argument model
    inputs: list[str]  # names of producer nodes or graph inputs, in argument order
    in_shapes: list[Shape]
    shape: Shape  # output shape
    params: int = 0
    macs: int = 0
    loc: Location | None = None
    path: str = ""  # spec path of the entry that made this node, e.g. "graph[12]"
    scope: tuple[str, ...] = ()  # enclosing block instances, outermost first (for clustering)
    block: str = ""  # name of the block definition this node was expanded from, if any

    @property
    def kind(self) -> str:
        """Display kind: a conv with BN and/or activation is shown as one fused unit."""
        from archspec.ops import registry

        return registry.get(self.op).kind(self)

    def parameters(self) -> dict[str, Any]:
        """This node's parameters: local name (inside its Cell) -> `ops.registry.Param(shape,
        trainable, role)`, in the Cell's order. The op registry owns these names."""
        from archspec.ops import registry

        return registry.node_parameters(self)

    def with_(self, **changes) -> "Node":
        return replace(self, **changes)


@dataclass
class Graph:
    name: str
    inputs: dict[str, Shape]
    nodes: list[Node]
    outputs: list[str]
    params: dict[str, Any] = field(default_factory=dict)  # resolved spec params
    source: str = ""  # path of the top-level spec file

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def shape_of(self, name: str) -> Shape:
        if name in self.inputs:
            return self.inputs[name]
        return self.node(name).shape

    def consumers(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for n in self.nodes:
            for i in n.inputs:
                users.setdefault(i, []).append(n.name)
        return users

    def __str__(self) -> str:
        """One line per node: op, inputs, arguments, output shape, params, MACs (graph/report.py)."""
        from archspec.graph.report import graph_table

        return graph_table(self)

    def parameters(self) -> dict[str, Any]:
        """Every parameter of the network this graph lowers to, without building it: full name
        `<node>.<local>` (as SpecNet names them, e.g. `layer1.0.conv1.conv.weight`) ->
        `ops.registry.Param(shape, trainable, role)`, in the built Cell's `get_parameters()`
        order. `trainable` is False for BatchNorm running statistics, which checkpoints carry
        but `total_params` does not count; `role` ("weight", "bias", "bn_mean", ...) says what
        a tensor is without parsing its name."""
        return {f"{n.name}.{local}": p for n in self.nodes for local, p in n.parameters().items()}

    def parameter_shapes(self, trainable_only: bool = False) -> dict[str, tuple[int, ...]]:
        """Full parameter name -> shape, for every parameter of the built Cell (trainable or not,
        unless `trainable_only`). What a weight map or checkpoint must provide."""
        return {name: p.shape for name, p in self.parameters().items() if p.trainable or not trainable_only}

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)


def last_readers(node_inputs, n_values: int) -> list[int]:
    """For each value index (graph inputs first, then nodes in order), the index of the last node
    that reads it, or -1 when no node does. `node_inputs[i]`: the value indices node i reads.
    What lets a generated `construct` or a replay free an intermediate once nothing needs it."""
    last = [-1] * n_values
    for i, ins in enumerate(node_inputs):
        for v in ins:
            last[v] = i
    return last
