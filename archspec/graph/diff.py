"""What changed between two resolved graphs: the answer to "what did my edit change?".

Nodes are paired by name first. A node left over on both sides with the same op that reads the
same (paired) inputs is the same node under a new name ("renamed": renaming a block instance
renames every node in it, and each one reads the renamed node before it). The rest are added
or removed. For every pair the arguments, inputs, output shape, parameters and MACs are
compared. No MindSpore: graphs are plain data.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from archspec.graph.ir import Graph, Node

Pair = tuple[Any, Any]  # (old, new)


@dataclass(frozen=True)
class NodeChange:
    """One node that differs. `kind`: added, removed, renamed or changed (renamed nodes may also
    have changed arguments)."""

    kind: str
    name: str  # the name in B (in A for a removed node)
    op: str
    old_name: str = ""  # renamed: the name in A
    args: dict[str, Pair] = field(default_factory=dict)  # argument -> (old, new)
    inputs: Pair | None = None  # (old inputs, new inputs), named as in B where paired
    shape: Pair | None = None
    params: Pair = (0, 0)
    macs: Pair = (0, 0)

    @property
    def params_delta(self) -> int:
        return self.params[1] - self.params[0]

    @property
    def macs_delta(self) -> int:
        return self.macs[1] - self.macs[0]

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "op": self.op}
        if self.old_name:
            out["old_name"] = self.old_name
        if self.args:
            out["args"] = {k: {"old": _plain(a), "new": _plain(b)} for k, (a, b) in self.args.items()}
        for key in ("inputs", "shape"):
            pair = getattr(self, key)
            if pair is not None:
                out[key] = {"old": _plain(pair[0]), "new": _plain(pair[1])}
        out["params"] = {"old": self.params[0], "new": self.params[1], "delta": self.params_delta}
        out["macs"] = {"old": self.macs[0], "new": self.macs[1], "delta": self.macs_delta}
        return out


@dataclass(frozen=True)
class GraphDiff:
    a: str  # names of the two graphs' sources (files)
    b: str
    nodes: tuple[NodeChange, ...]
    params: Pair  # totals (old, new)
    macs: Pair
    spec_params: dict[str, Pair]  # resolved spec params that differ
    inputs: dict[str, Pair]  # graph inputs whose shape differs (None: absent on that side)
    outputs: Pair | None  # (old, new) output names, when they differ

    @property
    def same(self) -> bool:
        return not (self.nodes or self.spec_params or self.inputs or self.outputs) and self.params[0] == self.params[1] \
            and self.macs[0] == self.macs[1]

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("added", "removed", "renamed", "changed")}
        for c in self.nodes:
            out[c.kind] += 1
        return out

    def to_json(self) -> dict:
        return {
            "a": self.a, "b": self.b, "same": self.same, "counts": self.counts(),
            "params": {"old": self.params[0], "new": self.params[1], "delta": self.params[1] - self.params[0]},
            "macs": {"old": self.macs[0], "new": self.macs[1], "delta": self.macs[1] - self.macs[0]},
            "spec_params": {k: {"old": _plain(a), "new": _plain(b)} for k, (a, b) in self.spec_params.items()},
            "inputs": {k: {"old": _plain(a), "new": _plain(b)} for k, (a, b) in self.inputs.items()},
            "outputs": {"old": self.outputs[0], "new": self.outputs[1]} if self.outputs else None,
            "nodes": [c.to_json() for c in self.nodes],
        }

    def lines(self) -> list[str]:
        """A plain-text report, one line per change (the CLI renders these)."""
        if self.same:
            return [f"{self.a} and {self.b} resolve to the same graph"]
        out = [f"--- {self.a}", f"+++ {self.b}"]
        out += [f"param {k}: {_text(a)} -> {_text(b)}" for k, (a, b) in self.spec_params.items()]
        out += [f"input {k}: {_text(a)} -> {_text(b)}" for k, (a, b) in self.inputs.items()]
        if self.outputs:
            out.append(f"outputs: {', '.join(self.outputs[0])} -> {', '.join(self.outputs[1])}")
        for c in self.nodes:
            head = {"added": "+", "removed": "-", "renamed": "~", "changed": "~"}[c.kind]
            name = f"{c.old_name} -> {c.name}" if c.old_name else c.name
            parts = [f"{head} {name} ({c.op}) {c.kind}"]
            parts += [f"{k}: {_text(a)} -> {_text(b)}" for k, (a, b) in c.args.items()]
            if c.inputs:
                parts.append(f"in: {_text(c.inputs[0])} -> {_text(c.inputs[1])}")
            if c.shape:
                parts.append(f"shape: {_text(c.shape[0])} -> {_text(c.shape[1])}")
            if c.params_delta:
                parts.append(f"params {c.params_delta:+,}")
            if c.macs_delta:
                parts.append(f"MACs {c.macs_delta:+,}")
            out.append("; ".join(parts))
        counts = ", ".join(f"{n} {k}" for k, n in self.counts().items() if n)
        out.append(f"{counts or 'no node changed'}; params {self.params[0]:,} -> {self.params[1]:,} "
                   f"({self.params[1] - self.params[0]:+,}), MACs {self.macs[0]:,} -> {self.macs[1]:,} "
                   f"({self.macs[1] - self.macs[0]:+,})")
        return out


def diff(a: Graph, b: Graph) -> GraphDiff:
    """Compare two resolved graphs (B is the edited one)."""
    pairs = _pair(a, b)
    b_of_a = {pa: pb for pb, pa in pairs.items()}
    by_a = {n.name: n for n in a.nodes}
    changes: list[NodeChange] = []
    a_pos = 0
    a_order = [n.name for n in a.nodes]
    for nb in b.nodes:  # B's order, each removed node placed where A had it
        pa = pairs.get(nb.name)
        if pa is not None:
            while a_pos < len(a_order) and a_order[a_pos] != pa:
                if a_order[a_pos] not in b_of_a:
                    changes.append(_removed(by_a[a_order[a_pos]], b_of_a))
                a_pos += 1
            a_pos += 1
            change = _compare(by_a[pa], nb, b_of_a)
            if change is not None:
                changes.append(change)
        else:
            changes.append(NodeChange("added", nb.name, nb.op, inputs=None, shape=(None, nb.shape),
                                      params=(0, nb.params), macs=(0, nb.macs)))
    for name in a_order[a_pos:]:
        if name not in b_of_a:
            changes.append(_removed(by_a[name], b_of_a))
    spec_params = {k: (a.params.get(k), b.params.get(k)) for k in {**a.params, **b.params}
                   if a.params.get(k, _MISSING) != b.params.get(k, _MISSING)}
    inputs = {k: (a.inputs.get(k), b.inputs.get(k)) for k in {**a.inputs, **b.inputs}
              if a.inputs.get(k) != b.inputs.get(k)}
    outputs_a = [b_of_a.get(o, o) for o in a.outputs]
    outputs = (list(a.outputs), list(b.outputs)) if outputs_a != list(b.outputs) else None
    return GraphDiff(a.source or a.name, b.source or b.name, tuple(changes), (a.total_params, b.total_params),
                     (a.total_macs, b.total_macs), spec_params, inputs, outputs)


_MISSING = object()


def _pair(a: Graph, b: Graph) -> dict[str, str]:
    """B name -> A name for the nodes that are the same node: same name, else (in B's order) the
    first unpaired A node with the same op whose inputs pair with this node's inputs."""
    names_a = {n.name for n in a.nodes}
    pairs = {n.name: n.name for n in b.nodes if n.name in names_a}
    b_of_a = {v: k for k, v in pairs.items()}
    free = [n for n in a.nodes if n.name not in b_of_a]
    for nb in b.nodes:
        if nb.name in pairs:
            continue
        for na in free:
            if na.op == nb.op and [b_of_a.get(i, i) for i in na.inputs] == nb.inputs:
                pairs[nb.name] = na.name
                b_of_a[na.name] = nb.name
                free.remove(na)
                break
    return pairs


def _removed(n: Node, b_of_a: dict[str, str]) -> NodeChange:
    return NodeChange("removed", n.name, n.op, shape=(n.shape, None), params=(n.params, 0), macs=(n.macs, 0))


def _compare(na: Node, nb: Node, b_of_a: dict[str, str]) -> NodeChange | None:
    old, new = _args(na), _args(nb)
    args = {k: (old.get(k), new.get(k)) for k in {**old, **new} if old.get(k, _MISSING) != new.get(k, _MISSING)}
    if na.op != nb.op:
        args = {"op": (na.op, nb.op), **args}
    seen_inputs = [b_of_a.get(i, i) for i in na.inputs]
    inputs = (list(na.inputs), list(nb.inputs)) if seen_inputs != nb.inputs else None
    shape = (na.shape, nb.shape) if na.shape != nb.shape else None
    renamed = na.name != nb.name
    if not (renamed or args or inputs or shape or na.params != nb.params or na.macs != nb.macs):
        return None
    return NodeChange("renamed" if renamed else "changed", nb.name, nb.op, old_name=na.name if renamed else "",
                      args=args, inputs=inputs, shape=shape, params=(na.params, nb.params), macs=(na.macs, nb.macs))


def _args(n: Node) -> dict[str, Any]:
    args = n.args
    if hasattr(args, "model_dump"):
        return {k: _plain(v) for k, v in args.model_dump().items()}
    return {k: _plain(v) for k, v in dict(args or {}).items()}


def _plain(v: Any) -> Any:
    """JSON-ready: tuples as lists, enums as their values."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _text(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
