"""The typed graph a spec resolves to. `spec_graph` is the one way from a loaded spec to the graph
every later layer uses: resolved, with conv -> batchnorm -> act chains fused."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from archspec.graph.ir import Graph
    from archspec.spec.loader import Spec


def spec_graph(spec: "Spec", input_shapes: dict[str, tuple[int, ...]] | None = None, *, fuse: bool = True) -> "Graph":
    """Resolve `spec` (at `input_shapes`, by input name) and fuse conv -> bn -> act chains (unless `fuse=False`)."""
    from archspec.graph.passes import fuse_conv_bn_act
    from archspec.graph.resolve import resolve

    graph = resolve(spec, input_shapes)
    return fuse_conv_bn_act(graph) if fuse else graph
