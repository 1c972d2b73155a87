"""A resolved graph as text and as JSON: one line per node with its op, inputs, the arguments that
matter, output shape, parameters and MACs (the shape of torch.fx's `print_tabular`).

`print(graph)` prints `graph_table(graph)`; `archspec resolve`, `archspec build` and their
`--json` use the same rows, so an edit that changes no shape (an ASPP rate, a padding, an
activation) still shows. No MindSpore, no rich.
"""
from __future__ import annotations

from typing import Any

from archspec.graph.ir import Graph, Node
from archspec.graph.passes import count_conv_bn_act

COLUMNS = ("node", "op", "inputs", "args", "output", "params", "MACs")


def human(n: float, unit: str = "") -> str:
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}{unit}".rstrip()
    return f"{n:g} {unit}".rstrip()


def shape_text(shape) -> str:
    return "x".join(str(int(d)) for d in shape)


def _value(v: Any) -> str:
    if isinstance(v, (tuple, list)):
        if len(v) == 2 and v[0] == v[1] and not isinstance(v[0], (tuple, list)):
            return _value(v[0])
        return "x".join(_value(x) for x in v) if all(isinstance(x, int) for x in v) else str(list(v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def node_args(node: Node) -> dict[str, Any]:
    """The node's arguments that differ from their declared defaults, in declaration order.

    An argument the resolver fills from the others (a conv's padding, bias, depthwise groups) is
    left out when it has the value it would be filled with, so the line shows what was chosen.
    """
    from archspec.ops import registry

    args = node.args
    complete = registry.get(node.op).complete
    shown: dict[str, Any] = {}
    for name, f in type(args).model_fields.items():
        v = getattr(args, name)
        if v is None or (v is False and f.default is False):
            continue
        if not f.is_required() and v == f.default:
            continue
        filled = getattr(complete(args.model_copy(update={name: None}), node.in_shapes), name) if f.default is None else None
        if filled is not None and _value(filled) == _value(v):
            continue  # what the resolver fills in anyway
        shown[name] = v
    return shown


def args_text(node: Node) -> str:
    parts = []
    for name, v in node_args(node).items():
        parts.append(name if v is True else f"{name}={_value(v)}")
    return " ".join(parts)


def rows(graph: Graph) -> list[tuple[str, ...]]:
    """One row of COLUMNS per node, as text."""
    return [(n.name, n.kind, ", ".join(n.inputs), args_text(n), shape_text(n.shape), f"{n.params:,}", human(n.macs))
            for n in graph.nodes]


def graph_table(graph: Graph) -> str:
    """The graph as a plain-text table, one line per node, then the totals."""
    body = rows(graph)
    total = ("total", f"{len(graph.nodes)} nodes", "", "", "", f"{graph.total_params:,}", human(graph.total_macs))
    widths = [max(len(r[i]) for r in [COLUMNS, *body, total]) for i in range(len(COLUMNS))]
    right = {5, 6}

    def line(r) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    inputs = ", ".join(f"{k} {shape_text(v)}" for k, v in graph.inputs.items())
    outputs = ", ".join(f"{k} {shape_text(graph.shape_of(k))}" for k in graph.outputs)
    rule = "-" * len(line(COLUMNS))
    return "\n".join([f"graph {graph.name}: inputs {inputs}; outputs {outputs}", line(COLUMNS), rule,
                      *map(line, body), rule, line(total)])


def graph_summary(graph: Graph) -> dict[str, Any]:
    """The graph as JSON-ready data (what `--json` prints)."""
    return {
        "name": graph.name,
        "spec": graph.source,
        "params": graph.params,
        "inputs": {k: list(v) for k, v in graph.inputs.items()},
        "outputs": {o: list(graph.shape_of(o)) for o in graph.outputs},
        "nodes": [
            {"name": n.name, "op": n.op, "kind": n.kind, "inputs": n.inputs, "args": n.args.model_dump(mode="json"),
             "shape": list(n.shape), "params": n.params, "macs": n.macs, "loc": str(n.loc) if n.loc else None}
            for n in graph.nodes
        ],
        "total_params": graph.total_params,
        "total_macs": graph.total_macs,
        "total_flops": 2 * graph.total_macs,
        "conv_bn_act": count_conv_bn_act(graph),
    }
