"""archspec: declarative, YAML-configured model building for MindSpore.

    spec = archspec.load("specs/deeplabv3p.yaml", overrides={"num_classes": 19})
    graph = archspec.resolve(spec)          # shapes, params and MACs; no MindSpore import
    net = archspec.build(graph)             # a mindspore.nn.Cell (imports MindSpore)
"""
from __future__ import annotations

__version__ = "0.1.0"

from archspec.errors import Location, SpecError, SpecErrors
from archspec.spec.loader import Spec, load

__all__ = ["Location", "Spec", "SpecError", "SpecErrors", "__version__", "build", "load", "resolve"]


def resolve(spec: Spec, input_shapes=None, *, fuse: bool = True):
    """Resolve a loaded spec into a typed Graph (and fuse conv -> bn -> act chains by default)."""
    from archspec.graph.resolve import resolve as _resolve

    graph = _resolve(spec, input_shapes)
    if fuse:
        from archspec.graph.passes import fuse_conv_bn_act

        graph = fuse_conv_bn_act(graph)
    return graph


def build(graph, *, options=None):
    """Lower a Graph to a mindspore.nn.Cell (imports MindSpore). `options`: lowering choices such
    as {"upsample.bilinear": "matmul"} (see `archspec.lower.build_cell`)."""
    from archspec.lower import build_cell

    return build_cell(graph, options=options)
