"""Verbs that need no MindSpore: `validate`, `draw`, `schema`, `list_ops`, `diff`, `specs`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from archspec.api.common import InputShapes, SpecLike, graph_of
from archspec.graph.ir import Graph


def validate(spec: SpecLike, *, overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
             allow_outside_imports: bool = False) -> Graph:
    """Check a spec without building anything: structure, params, references, shapes, and its
    `preprocess:`/`labels:` against the graph. Returns the resolved graph; raises SpecError(s)."""
    from archspec.spec.inference import check_spec

    loaded, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports)
    if loaded is not None:
        check_spec(loaded, graph)  # preprocess:/labels:, by predict's rules
    return graph


def diff(a: SpecLike, b: SpecLike, *, overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
         allow_outside_imports: bool = False):
    """What changed from spec `a` to spec `b` (`overrides` and `input_shapes` apply to both): nodes
    added, removed, renamed by position, changed arguments, inputs and shapes, and the params/MACs
    delta per node and in total. Compares the graphs before fusion, so nodes line up with spec
    entries. Returns an `archspec.graph.diff.GraphDiff`."""
    from archspec.graph.diff import diff as diff_graphs

    _, ga = graph_of(a, overrides, input_shapes, allow_outside_imports=allow_outside_imports, fuse=False)
    _, gb = graph_of(b, overrides, input_shapes, allow_outside_imports=allow_outside_imports, fuse=False)
    return diff_graphs(ga, gb)


def specs():
    """What the installed library holds: specs, block libraries and weight maps, by the names a
    spec uses for them (`archspec:lib/resnet.yaml`), and the ARCHSPEC_PATH search path.
    Returns an `archspec.spec.library.Installed`."""
    from archspec.spec.library import installed

    return installed()


def draw(spec: SpecLike, out: str | Path, *, overrides: Mapping[str, Any] | None = None,
         input_shapes: InputShapes = None, allow_outside_imports: bool = False, force: bool = False) -> Path:
    """Draw the resolved graph to `out`: .dot always, .svg/.png/.pdf through Graphviz's `dot`."""
    from archspec.graph.dot import write_graph

    _, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports)
    return write_graph(graph, out, force=force)


def schema(out: str | Path | None = None, *, force: bool = False) -> str:
    """The JSON Schema of the spec format (one node variant per op, for editor completion), as
    text; written to `out` as well when given."""
    import json

    from archspec.files import write_text
    from archspec.spec.jsonschema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2) + "\n"
    if out is not None:
        write_text(out, text, force=force)
    return text


@dataclass(frozen=True)
class OpInfo:
    name: str
    args: list[tuple[str, Any, bool]]  # (argument, default, required)
    doc: str


def list_ops() -> list[OpInfo]:
    """Every op a spec can use, with its arguments and defaults, by name."""
    from archspec.ops import registry

    found = []
    for name, op in sorted(registry.all_ops().items()):
        args = [(arg, None if f.is_required() else f.default, f.is_required()) for arg, f in op.args.model_fields.items()]
        found.append(OpInfo(name, args, op.doc))
    return found
