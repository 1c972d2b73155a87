"""Graph passes. `fuse_conv_bn_act` turns conv -> batchnorm (-> act) chains into one conv node
carrying bn/act, which the lowering emits as a single nn.Conv2dBnAct."""
from __future__ import annotations

from archspec.graph.ir import Graph, Node
from archspec.ops import registry


def fuse_conv_bn_act(graph: Graph) -> Graph:
    """Fold batchnorm and activation nodes into the conv that feeds them.

    A node is absorbed only when it is the sole reader of the conv's (or the absorbed BN's)
    result and that result is not a graph output, so no value anyone reads disappears.
    """
    users = graph.consumers()
    by_name = {n.name: n for n in graph.nodes}
    outputs = set(graph.outputs)
    absorbed: dict[str, str] = {}  # removed node name -> the fused node now producing its value
    fused: dict[str, Node] = {}

    def sole_reader(name: str, op: str) -> Node | None:
        readers = users.get(name, [])
        if name in outputs or len(readers) != 1:
            return None
        reader = by_name[readers[0]]
        return reader if reader.op == op and len(reader.inputs) == 1 else None

    for n in graph.nodes:
        if n.op != "conv" or n.name in absorbed:
            continue
        args, tail = n.args, n.name
        if not args.bn and not args.act:
            bn = sole_reader(tail, "batchnorm")
            if bn is not None:
                # The conv keeps its bias as resolved: fusion never changes what is computed.
                args = args.model_copy(update={"bn": True, "eps": bn.args.eps, "momentum": bn.args.momentum})
                absorbed[bn.name] = n.name
                tail = bn.name
        if not args.act:
            act = sole_reader(tail, "act")
            if act is not None:
                args = args.model_copy(update={"act": act.args.fn, "alpha": act.args.alpha})
                absorbed[act.name] = n.name
        if args is not n.args:
            opdef = registry.get("conv")
            params, macs = opdef.cost(args, n.in_shapes, n.shape)
            fused[n.name] = n.with_(args=args, params=params, macs=macs)
    if not absorbed:
        return graph
    nodes = []
    for n in graph.nodes:
        if n.name in absorbed:
            continue
        n = fused.get(n.name, n)
        nodes.append(n.with_(inputs=[absorbed.get(i, i) for i in n.inputs]))
    return Graph(name=graph.name, inputs=graph.inputs, nodes=nodes,
                 outputs=[absorbed.get(o, o) for o in graph.outputs], params=graph.params, source=graph.source)


def count_conv_bn_act(graph: Graph) -> int:
    """Number of conv nodes that carry a BatchNorm (each lowers to one nn.Conv2dBnAct with has_bn)."""
    return sum(1 for n in graph.nodes if n.op == "conv" and n.args.bn)


def fold_bn(graph: Graph) -> Graph:
    """The inference graph with every conv's BatchNorm folded into its weights and bias.

    Structure only: each conv with `bn` becomes a conv with bias and no BN (the activation
    stays). `fold_bn_weights` computes the matching weights. Folding at graph level keeps the
    folded model a first-class graph: it is reported, drawn, lowered and exported like any other.
    """
    nodes = []
    for n in graph.nodes:
        if n.op == "conv" and n.args.bn:
            args = n.args.model_copy(update={"bn": False, "bias": True})
            params, macs = registry.get("conv").cost(args, n.in_shapes, n.shape)
            n = n.with_(args=args, params=params, macs=macs)
        nodes.append(n)
    return Graph(name=graph.name, inputs=graph.inputs, nodes=nodes, outputs=graph.outputs,
                 params=graph.params, source=graph.source)


def fold_bn_weights(graph: Graph, weights: dict) -> dict:
    """Fold BN statistics into conv weights (numpy arrays keyed by parameter name).

    For y = BN(conv(x) + b): w' = w * g / sqrt(v + eps), b' = beta + (b - mean) * g / sqrt(v + eps).
    Returns the parameters of `fold_bn(graph)`'s cell; other parameters are copied unchanged.
    """
    import numpy as np

    out = dict(weights)
    for n in graph.nodes:
        if n.op != "conv" or not n.args.bn:
            continue
        p = n.name
        gamma, beta = weights[f"{p}.batchnorm.gamma"], weights[f"{p}.batchnorm.beta"]
        mean, var = weights[f"{p}.batchnorm.moving_mean"], weights[f"{p}.batchnorm.moving_variance"]
        w = weights[f"{p}.conv.weight"].astype(np.float64)
        b = weights.get(f"{p}.conv.bias")
        scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + n.args.eps)
        b = np.zeros_like(scale) if b is None else b.astype(np.float64)
        dtype = weights[f"{p}.conv.weight"].dtype
        out[f"{p}.conv.weight"] = (w * scale.reshape(-1, 1, 1, 1)).astype(dtype)
        out[f"{p}.conv.bias"] = (beta + (b - mean) * scale).astype(dtype)
        for k in ("gamma", "beta", "moving_mean", "moving_variance"):
            del out[f"{p}.batchnorm.{k}"]
    return out
