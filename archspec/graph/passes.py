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
