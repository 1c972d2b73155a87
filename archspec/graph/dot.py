"""Draw a resolved graph with Graphviz: one box per node (a ConvBnAct unit is one box),
block instances as clusters. `.dot` is always written; `.svg`/`.png`/`.pdf` go through
Graphviz's `dot` program when it is installed."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from archspec.errors import Location, SpecError
from archspec.files import atomic_path, check_target
from archspec.graph.ir import Graph

RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_COLORS = {"conv": "#dbe9f6", "concat": "#fde2c0", "add": "#fde2c0", "mul": "#fde2c0", "upsample": "#e3f1d9"}


def _q(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def to_dot(graph: Graph) -> str:
    lines = [f"digraph {_q(graph.name)} {{", "  rankdir=TB;", '  node [shape=box, style="rounded,filled", '
             'fillcolor="#f4f4f4", fontname="Helvetica", fontsize=10];', '  edge [color="#777777"];']
    for name, shape in graph.inputs.items():
        label = _q(name + "\\n" + "x".join(map(str, shape)))
        lines.append(f"  {_q(name)} [shape=oval, fillcolor=\"#ffffff\", label={label}];")
    # Nest clusters by each node's scope chain.
    tree: dict = {"nodes": [], "children": {}}
    for n in graph.nodes:
        t = tree
        for s in n.scope:
            t = t["children"].setdefault(s, {"nodes": [], "children": {}, "block": ""})
        t["nodes"].append(n)
        if n.scope:
            t["block"] = n.block
    counter = [0]

    def emit(t: dict, indent: str) -> None:
        for n in t["nodes"]:
            label = f"{n.name.rsplit('.', 1)[-1] if n.scope else n.name}\\n{n.kind}\\n{'x'.join(map(str, n.shape))}"
            color = _COLORS.get(n.op, "#f4f4f4")
            lines.append(f"{indent}{_q(n.name)} [label=\"{label}\", fillcolor=\"{color}\"];")
        for name, child in t["children"].items():
            counter[0] += 1
            lines.append(f"{indent}subgraph cluster_{counter[0]} {{")
            title = f"{name} ({child.get('block', '')})"
            lines.append(f"{indent}  label={_q(title)}; style=rounded; color=\"#999999\";")
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit(tree, "  ")
    for n in graph.nodes:
        for i in n.inputs:
            lines.append(f"  {_q(i)} -> {_q(n.name)};")
    for o in graph.outputs:
        label = _q("output\\n" + o)
        lines.append(f"  {_q('out:' + o)} [shape=oval, fillcolor=\"#ffffff\", label={label}];")
        lines.append(f"  {_q(o)} -> {_q('out:' + o)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(graph: Graph, path: str | Path, force: bool = False) -> Path:
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".dot", ".gv", *RENDERED):
        raise SpecError(f"cannot draw to '{p.suffix or p.name}'", Location("--out"),
                        hint="use a .dot, .svg, .png or .pdf file name")
    check_target(p, force)
    text = to_dot(graph)
    if suffix in (".dot", ".gv"):
        with atomic_path(p, replace=force) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return p
    dot = shutil.which("dot")
    if dot is None:
        raise SpecError(f"drawing {suffix} needs Graphviz's 'dot' program, which is not installed", Location("--out"),
                        hint="install Graphviz (apt-get install graphviz, brew install graphviz) or write a .dot file")
    with atomic_path(p, replace=force) as tmp:
        run = subprocess.run([dot, f"-T{RENDERED[suffix]}", "-o", str(tmp)], input=text, text=True,
                             capture_output=True, timeout=300)
        if run.returncode != 0:
            raise SpecError(f"Graphviz failed: {run.stderr.strip()[:500]}", Location("--out"))
    return p
