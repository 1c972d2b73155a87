"""Graph passes. `fuse_conv_bn_act` turns conv -> batchnorm (-> act) chains into one conv node
carrying bn/act, which the lowering emits as a single nn.Conv2dBnAct; `fold_bn` and
`fold_bn_weights` fold those BatchNorms into the conv weights for deployment.

"conv" here means every op that can carry a BatchNorm and an activation (its arguments have
`bn` and `act`, and its OpDef says how to scale its weight per output channel): `conv` and
`conv_transpose`. Parameter names come from the op registry (`Node.parameters()`), never from
this file."""
from __future__ import annotations

from archspec.graph.ir import Graph, Node
from archspec.ops import registry


def carries_bn(op: str) -> bool:
    """Whether nodes of `op` can absorb a following BatchNorm and activation (conv, conv_transpose)."""
    d = registry.get(op)
    return d.scale_out_channels is not None and {"bn", "act"} <= set(d.args.model_fields)


def _with_args(n: Node, args) -> Node:
    params, macs = registry.get(n.op).cost(args, n.in_shapes, n.shape)
    return n.with_(args=args, params=params, macs=macs)


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
        if n.name in absorbed or not carries_bn(n.op):
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
            fused[n.name] = _with_args(n, args)
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


def count_with_bn(graph: Graph) -> int:
    """Number of nodes of any op that carry a BatchNorm (what `fold_bn` folds)."""
    return sum(1 for n in graph.nodes if getattr(n.args, "bn", False))


def _has_bn(n: Node) -> bool:
    return carries_bn(n.op) and bool(n.args.bn)


def _folded_args(n: Node):
    return n.args.model_copy(update={"bn": False, "bias": True})


def fold_bn(graph: Graph) -> Graph:
    """The inference graph with every conv's BatchNorm folded into its weights and bias.

    Structure only: each conv with `bn` becomes a conv with bias and no BN (the activation
    stays). `fold_bn_weights` computes the matching weights. Folding at graph level keeps the
    folded model a first-class graph: it is reported, drawn, lowered and exported like any other.
    """
    nodes = [_with_args(n, _folded_args(n)) if _has_bn(n) else n for n in graph.nodes]
    return Graph(name=graph.name, inputs=graph.inputs, nodes=nodes, outputs=graph.outputs,
                 params=graph.params, source=graph.source)


def fold_bn_weights(graph: Graph, weights: dict, *, consume: bool = False) -> dict:
    """Fold BN statistics into conv weights (numpy arrays keyed by parameter name).

    For y = BN(conv(x) + b): w' = w * g / sqrt(v + eps), b' = beta + (b - mean) * g / sqrt(v + eps).
    Returns the parameters of `fold_bn(graph)`'s cell; other parameters are copied unchanged.
    Which tensor is which comes from the op registry's parameter roles; the op scales its own
    weight per output channel (`OpDef.scale_out_channels`).
    `consume`: `weights` is the caller's to give away: it is emptied, and each conv weight is
    folded in place, so the weights are held once, not twice.
    """
    import numpy as np

    out = dict(weights)
    if consume:
        weights.clear()
    for n in graph.nodes:
        if not _has_bn(n):
            continue
        name = {p.role: f"{n.name}.{local}" for local, p in n.parameters().items()}
        folded = {p.role: f"{n.name}.{local}" for local, p in n.with_(args=_folded_args(n)).parameters().items()}
        gamma, beta = out[name["bn_gamma"]], out[name["bn_beta"]]
        mean, var = out[name["bn_mean"]], out[name["bn_var"]]
        w = out[name["weight"]]
        b = out.get(name["bias"]) if "bias" in name else None
        scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + n.args.eps)
        b = np.zeros_like(scale) if b is None else b.astype(np.float64)
        for role in ("weight", "bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var"):
            out.pop(name.get(role), None)
        scaled = registry.get(n.op).scale_out_channels(n.args, w.astype(np.float64), scale)
        if consume and w.flags.writeable:
            w[...] = scaled  # the unfolded array is ours: reuse its memory (rounded as astype rounds)
            out[folded["weight"]] = w
        else:
            out[folded["weight"]] = scaled.astype(w.dtype)
        out[folded["bias"]] = (beta + (b - mean) * scale).astype(w.dtype)
    return out


def argmax_head(graph: Graph) -> Graph:
    """The graph with an argmax over the channels (axis 1) appended to its FIRST output, which it
    replaces: a segmenter's [N, C, H, W] scores become its int32 class map [N, H, W] (a
    classifier's [N, C] its [N] class indices); other outputs stay. The new node is named
    `classes` (`<output>.classes` if that name is taken). What `export(..., argmax=True)` writes."""
    from archspec.errors import Location, SpecError

    first = graph.outputs[0]
    scores = graph.shape_of(first)
    if len(scores) < 2:
        raise SpecError(f"--argmax needs a first output with a channel axis, but '{first}' has shape "
                        f"{list(scores)}", Location("--argmax"), hint="drop --argmax for this model")
    taken = set(graph.inputs) | {n.name for n in graph.nodes}
    name = "classes" if "classes" not in taken else f"{first}.classes"
    op = registry.get("argmax")
    args = op.args(axis=1)
    shape = tuple(op.infer(args, [scores]))
    head = Node(name=name, op="argmax", args=args, inputs=[first], in_shapes=[scores], shape=shape,
                path="--argmax")
    return Graph(name=graph.name, inputs=graph.inputs, nodes=[*graph.nodes, head], outputs=[name, *graph.outputs[1:]],
                 params=graph.params, source=graph.source)
