"""A deployable Cell from a built one: BatchNorm folded into the convolutions and/or other lowerings.

    folded_graph, folded_net = deploy_cell(net)                       # BN folded, same lowerings
    g, onnx_net = deploy_cell(net, options={"upsample.bilinear": "matmul"})

Folding happens at graph level (`archspec.graph.passes.fold_bn`: each conv with `bn` becomes a
conv with bias) and the weights follow in NumPy (`fold_bn_weights`, computed in float64 from the
built net's current parameters, so weights loaded with `--weights` are folded too). Why at graph
level rather than by rewriting the built Cell: the folded model is then an ordinary graph that is
reported, drawn, lowered and exported like any other (its parameter count is `graph.total_params`),
and the lowering stays the only place that makes Cells.
"""
from __future__ import annotations

import numpy as np

from archspec.graph.ir import Graph
from archspec.graph.passes import fold_bn, fold_bn_weights
from archspec.lower.cell import SpecNet, build_cell

__all__ = ["deploy_cell", "rebuild", "net_arrays", "load_arrays"]


def net_arrays(net: SpecNet) -> dict[str, np.ndarray]:
    """Every parameter of `net` (trainable or not: BN moving statistics too) by its spec name."""
    return {p.name: p.asnumpy() for p in net.get_parameters()}


def load_arrays(net: SpecNet, arrays: dict[str, np.ndarray]) -> None:
    """Set every parameter of `net` from `arrays`; names and shapes must match exactly."""
    from mindspore import Tensor

    params = {p.name: p for p in net.get_parameters()}
    missing = sorted(set(params) - set(arrays))
    extra = sorted(set(arrays) - set(params))
    if missing or extra:
        raise ValueError(f"parameters do not match: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, p in params.items():
        a = arrays[name]
        if tuple(a.shape) != tuple(p.shape):
            raise ValueError(f"parameter {name}: shape {list(a.shape)}, expected {list(p.shape)}")
        p.set_data(Tensor(np.ascontiguousarray(a).astype(np.float32 if a.dtype == np.float64 else a.dtype)))


def rebuild(graph: Graph, arrays: dict[str, np.ndarray], *, fold: bool = True,
            options: dict[str, str] | None = None) -> tuple[Graph, SpecNet]:
    """`graph` lowered again (BN folded when `fold`, with lowering `options`), carrying the
    parameters `arrays` (by spec name, as `net_arrays` returns them), in inference mode."""
    target = fold_bn(graph) if fold else graph
    if fold:
        arrays = fold_bn_weights(graph, arrays)
    new = build_cell(target, options=options)
    load_arrays(new, arrays)
    new.set_train(False)
    return target, new


def deploy_cell(net: SpecNet, *, fold: bool = True, options: dict[str, str] | None = None) -> tuple[Graph, SpecNet]:
    """The graph and Cell to deploy for `net`: BN folded (when `fold`), lowered with `options`,
    carrying `net`'s weights. `net` itself is not changed; it must have been built by `build_cell`."""
    return rebuild(net.spec_graph, net_arrays(net), fold=fold, options=options)
