"""Checking ops against PyTorch: one small graph per op family, run four ways.

`check_family(ms, tmp_path, cases)` puts each case (an op with its arguments and input shapes)
into one Graph as a separate branch with its own inputs and output, builds it with `build_cell`,
sets every parameter to random values (BatchNorm variances positive), and compares each output
with the case's PyTorch reference in PYNATIVE mode, in GRAPH mode, after MindIR
export (mindspore.load + nn.GraphCell) and after ONNX export (onnxruntime; lowered with the
ONNX export lowering options). Tolerance: 1e-5 of the output's scale (max |reference|).
The reference is `case.torch(node, weights)`: a PyTorch module (its parameters set from
`weights`, the archspec values by the registry's local names; its parameter count must equal
the node's) or a function, applied to the inputs.
One graph per family keeps it to one compile and two exports.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from archspec.graph.ir import Graph, Node
from archspec.ops import get

REL_TOL = 1e-5


@dataclass
class Case:
    name: str
    op: str
    args: dict
    in_shapes: list[tuple[int, ...]]
    torch: Callable[..., Any]  # (node, weights {local name: torch tensor}) -> nn.Module or function of the inputs
    exact: bool = False  # integer outputs (argmax) must be equal
    seed: int = 0
    inputs: list[np.ndarray] = field(default_factory=list)  # given inputs (default: standard normal)


def make_node(name: str, op: str, args: dict, in_shapes, inputs=None) -> Node:
    """What resolve makes of one entry: validated, completed, shape and cost inferred."""
    d = get(op)
    in_shapes = [tuple(s) for s in in_shapes]
    a = d.complete(d.args(**args), in_shapes)
    shape = tuple(d.infer(a, in_shapes))
    params, macs = d.cost(a, in_shapes, shape)
    return Node(name=name, op=op, args=a, inputs=inputs or [f"x{i}" for i in range(len(in_shapes))],
                in_shapes=in_shapes, shape=shape, params=params, macs=macs)


def family_graph(cases: list[Case]) -> Graph:
    inputs, nodes = {}, []
    for c in cases:
        names = [f"{c.name}_in{i}" for i in range(len(c.in_shapes))]
        inputs.update({n: tuple(s) for n, s in zip(names, c.in_shapes)})
        nodes.append(make_node(c.name, c.op, c.args, c.in_shapes, names))
    return Graph(name="family", inputs=inputs, nodes=nodes, outputs=[c.name for c in cases])


def randomize(net, seed: int = 0) -> dict[str, np.ndarray]:
    """Random values for every parameter of `net` (by its role: BN variances in [0.5, 2]); returns them."""
    from mindspore import Tensor

    rng = np.random.default_rng(seed)
    roles = {name: p.role for name, p in net.spec_graph.parameters().items()}
    arrays = {}
    for p in net.get_parameters():
        shape = tuple(p.shape)
        if roles[p.name] == "bn_var":
            a = rng.uniform(0.5, 2.0, shape)
        elif roles[p.name] in ("gamma", "bn_gamma"):
            a = rng.uniform(0.5, 1.5, shape)
        else:
            a = rng.normal(0.0, 0.5, shape)
        arrays[p.name] = a.astype(np.float32)
        p.set_data(Tensor(arrays[p.name]))
    return arrays


def case_inputs(cases: list[Case]) -> list[np.ndarray]:
    xs = []
    for c in cases:
        rng = np.random.default_rng(c.seed + 100)
        xs += c.inputs or [rng.standard_normal(s).astype(np.float32) for s in c.in_shapes]
    return xs


def torch_references(graph: Graph, cases: list[Case], arrays, xs) -> list[np.ndarray]:
    outs, k = [], 0
    for c, n in zip(cases, graph.nodes):
        weights = {local: torch.from_numpy(arrays[f"{n.name}.{local}"]) for local in n.parameters()}
        ins = [torch.from_numpy(x) for x in xs[k:k + len(c.in_shapes)]]
        k += len(c.in_shapes)
        with torch.no_grad():
            fn = c.torch(n, weights)
            if isinstance(fn, torch.nn.Module):
                assert n.params == sum(p.numel() for p in fn.parameters()), f"{n.name}: parameter count"
                fn.eval()
            outs.append(fn(*ins).numpy())
    return outs


def assert_close(got, want, what: str, exact: bool = False) -> None:
    got = np.asarray(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, PyTorch {want.shape}"
    if exact:
        assert np.array_equal(got, want), f"{what}: {int((got != want).sum())} values differ"
        return
    scale = float(np.abs(want).max())
    diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())
    assert diff <= REL_TOL * scale, f"{what}: max abs diff {diff:.3g} > 1e-5 * output scale {scale:.3g}"


def _outputs(y) -> list[np.ndarray]:
    items = y if isinstance(y, (tuple, list)) else (y,)
    return [t.asnumpy() if hasattr(t, "asnumpy") else np.asarray(t) for t in items]


def check_family(ms, tmp_path, cases: list[Case], *, onnx: bool = True) -> Graph:
    """Run the four checks (see the module docstring); returns the graph for further checks."""
    import onnxruntime as ort

    from archspec.lower import build_cell
    from archspec.lower.fold import load_arrays
    from archspec.runtime.export import EXPORT_LOWERING

    graph = family_graph(cases)
    net = build_cell(graph)
    arrays = randomize(net)
    xs = case_inputs(cases)
    want = torch_references(graph, cases, arrays, xs)
    txs = [ms.Tensor(x) for x in xs]

    def compare(outs, how: str) -> None:
        assert len(outs) == len(cases)
        for c, got, w in zip(cases, outs, want):
            assert_close(got, w, f"{c.name} ({c.op} {c.args}) {how}", c.exact)

    compare(_outputs(net(*txs)), "PYNATIVE")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        compare(_outputs(net(*txs)), "GRAPH")
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.export(net, *txs, file_name=str(tmp_path / "family"), file_format="MINDIR")
    compare(_outputs(ms.nn.GraphCell(ms.load(str(tmp_path / "family.mindir")))(*txs)), "MindIR")
    if onnx:
        onnx_net = build_cell(graph, options=EXPORT_LOWERING["onnx"])
        load_arrays(onnx_net, arrays)
        compare(_outputs(onnx_net(*txs)), "PYNATIVE, ONNX lowering")
        ms.onnx.export(onnx_net, *txs, file_name=str(tmp_path / "family.onnx"), input_names=list(graph.inputs),
                       output_names=list(graph.outputs))
        session = ort.InferenceSession(str(tmp_path / "family.onnx"), providers=["CPUExecutionProvider"])
        compare(session.run(None, dict(zip(graph.inputs, xs))), "ONNX (onnxruntime)")
    return graph
