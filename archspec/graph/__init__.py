"""The typed graph a spec resolves to. `spec_graph` is the one way from a loaded spec to the graph
every later layer uses: resolved, with conv -> batchnorm -> act chains fused."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from archspec.errors import Location
    from archspec.graph.ir import Graph
    from archspec.spec.loader import Spec


def spec_graph(spec: "Spec", input_shapes: dict[str, tuple[int, ...]] | None = None, *, fuse: bool = True,
               size_loc: "Location | None" = None, size_fix: str | None = None) -> "Graph":
    """Resolve `spec` (at `input_shapes`, by input name) and fuse conv -> bn -> act chains (unless `fuse=False`).
    `size_loc`, `size_fix`: where the shapes came from, if not --input-shape (see `resolve`)."""
    from archspec.graph.passes import fuse_conv_bn_act
    from archspec.graph.resolve import resolve

    graph = resolve(spec, input_shapes, size_loc=size_loc, size_fix=size_fix)
    return fuse_conv_bn_act(graph) if fuse else graph
