"""Build a PyTorch `nn.Module` from a resolved archspec Graph, with archspec's weights, by name.

    graph = archspec.resolve(archspec.load("specs/deeplabv3p_mobilenetv2.yaml"))
    model = TorchGraph(graph).eval()
    model.load_archspec_weights(arrays)   # {archspec parameter name: ndarray}, e.g. from a .ckpt
    y = model(x)                          # the graph's outputs in graph.outputs order

One small torch module per node, generic over the ops archspec has (no model-specific code):
conv and conv_transpose (padding, dilation, groups, bias, BatchNorm, activation), batchnorm,
groupnorm, layernorm (over channels), act, maxpool/avgpool (PyTorch semantics, which archspec's
spec language follows), global_avgpool, adaptive_avgpool, pad, upsample (`F.interpolate` with
the node's static output size), concat, add, mul, sub, softmax, argmax (int32), reshape,
permute, pixel_shuffle/unshuffle, dropout (identity: eval), flatten, dense and identity.
`forward` walks the nodes in topological order and drops each value after its last use.

Weight names are not written here: they come from archspec's op registry (`Graph.parameters()`:
name -> shape, trainable, role). Every torch module with parameters keeps its main layer as
`main` and a BatchNorm as `bn`, so a parameter's role says where it goes (`ROLE_TO_TORCH`:
weight -> main.weight, bn_mean -> bn.running_mean, ...). Loading is strict: every archspec
tensor must be used and every torch parameter/buffer (but BatchNorm's `num_batches_tracked`)
must be set, shapes equal.

A benchmark helper (benchmarks/peers.py), not part of the archspec package: it needs torch.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from archspec.graph.ir import last_readers

__all__ = ["TorchGraph", "torch_activation"]


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def torch_activation(fn: str | None, alpha: float = 0.01) -> nn.Module:
    """The torch module for an archspec activation name (None: identity)."""
    if fn is None:
        return nn.Identity()
    table = {
        "relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU,
        "hswish": nn.Hardswish, "hsigmoid": nn.Hardsigmoid,
        "gelu": lambda: nn.GELU(approximate="none"),  # archspec's gelu is the exact (erf) form
    }
    if fn == "leakyrelu":
        return nn.LeakyReLU(float(alpha))
    if fn not in table:
        raise NotImplementedError(f"activation {fn!r} has no torch equivalent here")
    return table[fn]()


# ----------------------------------------------------------------------------- per-op modules
# Where each parameter role of archspec's registry lives in the torch modules below.
ROLE_TO_TORCH = {"weight": "main.weight", "bias": "main.bias", "gamma": "main.weight", "beta": "main.bias",
                 "bn_gamma": "bn.weight", "bn_beta": "bn.bias", "bn_mean": "bn.running_mean",
                 "bn_var": "bn.running_var"}


class Unit(nn.Module):
    """main layer (conv, transposed conv, linear, norm) -> BatchNorm (optional) -> activation."""

    def __init__(self, main: nn.Module, bn: nn.Module | None = None, act: nn.Module | None = None) -> None:
        super().__init__()
        self.main = main
        self.bn = bn
        self.act = act if act is not None else nn.Identity()

    def forward(self, x):
        x = self.main(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class ChannelLayerNorm(nn.Module):
    """archspec's layernorm: a LayerNorm over axis 1 (channels) at each position."""

    def __init__(self, channels: int, eps: float, affine: bool) -> None:
        super().__init__()
        self.shape, self.eps = (channels,), eps
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x):
        return F.layer_norm(x.movedim(1, -1), self.shape, self.weight, self.bias, self.eps).movedim(-1, 1)


def _bn(node) -> nn.Module | None:
    a = node.args
    return nn.BatchNorm2d(a.out, eps=a.eps, momentum=a.momentum) if a.bn else None


def _conv_unit(node) -> nn.Module:
    a = node.args
    cin = node.in_shapes[0][1]
    if node.op == "conv":
        main = nn.Conv2d(cin, a.out, _pair(a.k), stride=_pair(a.stride), padding=_pair(a.padding),
                         dilation=_pair(a.dilation), groups=a.groups, bias=bool(a.bias))
    else:
        main = nn.ConvTranspose2d(cin, a.out, _pair(a.k), stride=_pair(a.stride), padding=_pair(a.padding),
                                  output_padding=_pair(a.output_padding), dilation=_pair(a.dilation),
                                  groups=a.groups, bias=bool(a.bias))
    return Unit(main, _bn(node), torch_activation(a.act, a.alpha))


class Fn(nn.Module):
    """A parameter-free op as a function of its inputs."""

    def __init__(self, fn, what: str) -> None:
        super().__init__()
        self.fn = fn
        self.what = what

    def forward(self, *xs):
        return self.fn(*xs)

    def extra_repr(self) -> str:
        return self.what


def _fold(fn):
    def apply(*xs):
        y = xs[0]
        for t in xs[1:]:
            y = fn(y, t)
        return y
    return apply


def _param_module(node) -> nn.Module | None:
    a, op, cin = node.args, node.op, node.in_shapes[0][1] if len(node.in_shapes[0]) > 1 else 0
    if op in ("conv", "conv_transpose"):
        return _conv_unit(node)
    if op == "batchnorm":
        return Unit(nn.Identity(), nn.BatchNorm2d(cin, eps=a.eps, momentum=a.momentum))
    if op == "dense":  # MindSpore's nn.Dense weight is (out, in), as torch's
        return Unit(nn.Linear(cin, a.out, bias=a.bias), act=torch_activation(a.act, a.alpha))
    if op == "groupnorm":
        return Unit(nn.GroupNorm(a.groups, cin, eps=a.eps, affine=a.affine))
    if op == "layernorm":
        return Unit(ChannelLayerNorm(cin, a.eps, a.affine))
    return None


def _module(node) -> nn.Module:
    m = _param_module(node)
    if m is not None:
        return m
    a = node.args
    op = node.op
    if op == "act":
        return torch_activation(a.fn, a.alpha)
    if op == "maxpool":
        k, s, p = _pair(a.k), _pair(a.stride), _pair(a.padding)
        return Fn(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=a.ceil_mode), f"maxpool k={k} s={s} p={p}")
    if op == "avgpool":
        k, s, p = _pair(a.k), _pair(a.stride), _pair(a.padding)
        return Fn(lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=a.ceil_mode, count_include_pad=a.count_include_pad),
                  f"avgpool k={k} s={s} p={p}")
    if op == "global_avgpool":
        return Fn(lambda x: x.mean(dim=(2, 3), keepdim=True), "global_avgpool")
    if op == "adaptive_avgpool":
        return nn.AdaptiveAvgPool2d(_pair(a.size))
    if op == "upsample":
        size = (int(node.shape[2]), int(node.shape[3]))  # static: archspec resolved it
        if a.mode == "bilinear":
            ac = bool(a.align_corners)
            return Fn(lambda x: F.interpolate(x, size=size, mode="bilinear", align_corners=ac),
                      f"bilinear {size} align_corners={ac}")
        return Fn(lambda x: F.interpolate(x, size=size, mode="nearest"), f"nearest {size}")
    if op == "concat":
        axis = a.axis % len(node.shape)
        return Fn(lambda *xs: torch.cat(xs, axis), f"concat axis={axis}")
    if op in ("add", "mul", "sub"):
        return Fn(_fold({"add": torch.add, "mul": torch.mul, "sub": torch.sub}[op]), op)
    if op == "softmax":
        return Fn(lambda x: torch.softmax(x, a.axis), f"softmax axis={a.axis}")
    if op == "argmax":
        return Fn(lambda x: torch.argmax(x, a.axis, keepdim=a.keepdims).to(torch.int32), f"argmax axis={a.axis}")
    if op in ("reshape", "flatten"):
        shape = tuple(node.shape[1:])
        return Fn(lambda x: x.reshape(x.shape[0], *shape), f"{op} {shape}")
    if op == "permute":
        return Fn(lambda x: x.permute(*a.dims), f"permute {a.dims}")
    if op == "pixel_shuffle":
        return nn.PixelShuffle(a.factor)
    if op == "pixel_unshuffle":
        return nn.PixelUnshuffle(a.factor)
    if op in ("dropout", "identity"):
        return Fn(lambda x: x, op + " (identity at inference)")
    if op == "pad":
        from archspec.ops.pad import pads

        t, b, l, r = pads(a)  # archspec order: top, bottom, left, right; F.pad wants the width first
        v = float(a.value)
        return Fn(lambda x: F.pad(x, (l, r, t, b), value=v), f"pad t={t} b={b} l={l} r={r} value={v}")
    raise NotImplementedError(f"node '{node.name}': op '{op}' has no torch builder in benchmarks/torch_from_graph.py")


class TorchGraph(nn.Module):
    """The graph as a torch module: inputs positionally in `graph.inputs` order; one output, else a tuple."""

    def __init__(self, graph) -> None:
        super().__init__()
        self.node_names = [n.name for n in graph.nodes]
        self.ops = nn.ModuleList(_module(n) for n in graph.nodes)
        # archspec parameter name -> torch state key, from the registry's names and roles
        self.archspec_names = {f"{n.name}.{local}": f"ops.{i}.{ROLE_TO_TORCH[p.role]}"
                               for i, n in enumerate(graph.nodes) for local, p in n.parameters().items()}
        self.input_names = list(graph.inputs)
        index = {name: i for i, name in enumerate(self.input_names)}
        n_in = len(index)
        self.node_inputs: list[tuple[int, ...]] = []
        for i, n in enumerate(graph.nodes):
            self.node_inputs.append(tuple(index[s] for s in n.inputs))
            index[n.name] = n_in + i
        self.output_index = [index[o] for o in graph.outputs]
        last_use = last_readers(self.node_inputs, n_in + len(graph.nodes))
        keep = set(self.output_index)
        # values to drop after node i (their last reader), so memory behaves like a real model's
        self.free_after = [tuple(sorted({v for v in ins if last_use[v] == i and v not in keep}))
                           for i, ins in enumerate(self.node_inputs)]
        self.n_in = n_in

    def forward(self, *xs):
        values: list[Any] = list(xs) + [None] * len(self.ops)
        for i, (m, ins) in enumerate(zip(self.ops, self.node_inputs)):
            values[self.n_in + i] = m(*[values[v] for v in ins])
            for v in self.free_after[i]:
                values[v] = None
        outs = [values[v] for v in self.output_index]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def load_archspec_weights(self, arrays: dict[str, np.ndarray]) -> int:
        """Copy archspec's tensors (by parameter name) into this module; strict. Returns how many."""
        state = self.state_dict()
        used: set[str] = set()
        wanted = {key: name for name, key in self.archspec_names.items()}  # torch state key -> archspec name
        unset = sorted(k for k in state if k not in wanted and not k.endswith("num_batches_tracked"))
        missing = sorted(v for v in wanted.values() if v not in arrays)
        if unset or missing:
            raise KeyError(f"weights do not map: torch tensors without an archspec name {unset[:5]}, "
                           f"archspec names not in the weights {missing[:5]}")
        with torch.no_grad():
            for key, src in wanted.items():
                a = np.asarray(arrays[src])
                if tuple(a.shape) != tuple(state[key].shape):
                    raise ValueError(f"{src}: shape {a.shape}, torch {key} wants {tuple(state[key].shape)}")
                state[key].copy_(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)))
                used.add(src)
        extra = sorted(set(arrays) - used)
        if extra:
            raise KeyError(f"archspec tensors the torch model does not use: {extra[:5]} ({len(extra)} in all)")
        return len(used)
