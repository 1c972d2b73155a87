"""A deployable Cell from a built one: BatchNorm folded into the convolutions and/or other lowerings.

    folded_graph, folded_net = deploy_cell(net)                       # BN folded, same lowerings
    g, onnx_net = deploy_cell(net, options={"upsample.bilinear": "matmul"})

Folding happens at graph level (`archspec.graph.passes.fold_bn`: each conv with `bn` becomes a
conv with bias) and the weights follow in NumPy (`fold_bn_weights`, computed in float64 from the
built net's current parameters, so weights loaded with `--weights` are folded too). Why at graph
level rather than by rewriting the built Cell: the folded model is then an ordinary graph that is
reported, drawn, lowered and exported like any other (its parameter count is `graph.total_params`),
and the lowering stays the only place that makes Cells.

Memory: the deployed form must not cost more than the model as built. So the new Cell is built
without drawing random initial weights (`mindspore.nn.utils.no_init_parameters`, where MindSpore
has it) and each array is dropped as soon as it is in the Cell; `from_checkpoint` reads a
checkpoint, folds it and builds the Cell holding one copy of the weights at a time (the unfolded
Cell is never built, and the unfolded arrays are released once folded).
"""
from __future__ import annotations

import numpy as np

from archspec.graph.ir import Graph
from archspec.graph.passes import fold_bn, fold_bn_weights
from archspec.lower.cell import SpecNet, build_cell

__all__ = ["deploy_cell", "rebuild", "from_checkpoint", "net_arrays", "load_arrays"]


def net_arrays(net: SpecNet) -> dict[str, np.ndarray]:
    """Every parameter of `net` (trainable or not: BN moving statistics too) by its spec name."""
    return {p.name: p.asnumpy() for p in net.get_parameters()}


def _checkpoint_views(path: str) -> dict[str, np.ndarray]:
    """A checkpoint archspec itself wrote (the profile's prepare step), by name, as NumPy arrays
    sharing the loaded tensors' memory (`asnumpy` on CPU returns a view), so the weights are held
    once. Untrusted files go through `archspec.weights.checkpoint.read_checkpoint` instead."""
    import mindspore

    params = mindspore.load_checkpoint(str(path))
    return {name: params.pop(name).asnumpy() for name in list(params)}


def load_arrays(net: SpecNet, arrays: dict[str, np.ndarray], *, consume: bool = False) -> None:
    """Set every parameter of `net` from `arrays`; names and shapes must match exactly.
    `consume`: remove each array from `arrays` once it is in the net (so it can be freed)."""
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
    for name, p in params.items():
        a = arrays.pop(name) if consume else arrays[name]
        dtype = np.float32 if a.dtype == np.float64 else a.dtype
        p.set_data(Tensor(np.ascontiguousarray(a, dtype=dtype)))  # Tensor() copies
        del a


def rebuild(graph: Graph, arrays: dict[str, np.ndarray], *, fold: bool = True,
            options: dict[str, str] | None = None, consume: bool = False) -> tuple[Graph, SpecNet]:
    """`graph` lowered again (BN folded when `fold`, with lowering `options`), carrying the
    parameters `arrays` (by spec name, as `net_arrays` returns them), in inference mode.
    `consume`: `arrays` is the caller's to give away; it is emptied as the weights move into the
    Cell, so that one copy of them is held at a time."""
    target = fold_bn(graph) if fold else graph
    if fold:
        arrays, consume = fold_bn_weights(graph, arrays, consume=consume), True
    new = _build_uninitialized(target, options)
    load_arrays(new, arrays, consume=consume)
    new.set_train(False)
    return target, new


def from_checkpoint(graph: Graph, path: str, *, fold: bool = False,
                    options: dict[str, str] | None = None) -> tuple[Graph, SpecNet]:
    """`graph` (BN folded when `fold`) lowered with `options`, carrying a checkpoint's weights in
    spec names; the unfolded Cell is never built and one copy of the weights is held at a time."""
    import gc

    result = rebuild(graph, _checkpoint_views(path), fold=fold, options=options, consume=True)
    gc.collect()
    return result


def _build_uninitialized(graph: Graph, options: dict[str, str] | None) -> SpecNet:
    """`build_cell` without drawing the initial weights that `load_arrays` replaces at once."""
    import contextlib

    try:
        from mindspore.nn.utils import no_init_parameters
    except ImportError:  # a MindSpore without it: the initial weights are drawn, then replaced
        no_init_parameters = contextlib.nullcontext
    with no_init_parameters():
        return build_cell(graph, options=options)


def deploy_cell(net: SpecNet, *, fold: bool = True, options: dict[str, str] | None = None) -> tuple[Graph, SpecNet]:
    """The graph and Cell to deploy for `net`: BN folded (when `fold`), lowered with `options`,
    carrying `net`'s weights. `net` itself is not changed; it must have been built by `build_cell`."""
    return rebuild(net.spec_graph, net_arrays(net), fold=fold, options=options)
