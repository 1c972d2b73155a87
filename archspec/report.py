"""Human (rich) and machine (JSON) summaries of a resolved graph."""
from __future__ import annotations

from typing import Any

from archspec.graph.ir import Graph
from archspec.graph.passes import count_conv_bn_act


def human(n: float, unit: str = "") -> str:
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}{unit}".rstrip()
    return f"{n:g} {unit}".rstrip()


def graph_summary(graph: Graph) -> dict[str, Any]:
    return {
        "name": graph.name,
        "spec": graph.source,
        "params": graph.params,
        "inputs": {k: list(v) for k, v in graph.inputs.items()},
        "outputs": {o: list(graph.shape_of(o)) for o in graph.outputs},
        "nodes": [
            {"name": n.name, "op": n.op, "kind": n.kind, "inputs": n.inputs, "shape": list(n.shape),
             "params": n.params, "macs": n.macs, "loc": str(n.loc) if n.loc else None}
            for n in graph.nodes
        ],
        "total_params": graph.total_params,
        "total_macs": graph.total_macs,
        "total_flops": 2 * graph.total_macs,
        "conv_bn_act": count_conv_bn_act(graph),
    }


def node_table(graph: Graph, title: str = ""):
    from rich.table import Table

    table = Table(title=title or None, show_lines=False, header_style="bold")
    table.add_column("node")
    table.add_column("op")
    table.add_column("output shape")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for n in graph.nodes:
        table.add_row(n.name, n.kind, "x".join(map(str, n.shape)), f"{n.params:,}", human(n.macs))
    table.add_section()
    table.add_row("total", f"{len(graph.nodes)} nodes", "", f"{graph.total_params:,}", human(graph.total_macs))
    return table
