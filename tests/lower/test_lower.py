"""archspec.lower: Graph -> mindspore.nn.Cell.

Graphs are built by hand here (op registry: args -> complete -> infer -> cost), so these tests
do not depend on the YAML resolver.
"""
from __future__ import annotations

import gc
import inspect
import weakref

from archspec.runtime.isa import apply_isa_fix

apply_isa_fix()  # before MindSpore runs its first kernel

import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from mindspore import Tensor, nn, ops  # noqa: E402

from archspec.errors import Location, SpecError  # noqa: E402
from archspec.graph.ir import Graph, Node  # noqa: E402
from archspec.lower import build_cell, compile_cell, count_fused, find_unfused_conv_bn, run  # noqa: E402
from archspec.ops import registry  # noqa: E402
from archspec.ops.registry import OpArgs, OpDef  # noqa: E402

TOL = 1e-5
BN_SUFFIXES = ("batchnorm.gamma", "batchnorm.beta", "batchnorm.moving_mean", "batchnorm.moving_variance")


# ----------------------------------------------------------------------------- helpers
class GraphBuilder:
    """Builds a Graph node by node the way resolve does: args -> complete -> infer -> cost."""

    def __init__(self, name: str, **inputs) -> None:
        self.graph = Graph(name=name, inputs={k: tuple(v) for k, v in inputs.items()}, nodes=[], outputs=[])

    def add(self, name: str, op: str, inputs, **args) -> str:
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        d = registry.get(op)
        in_shapes = [tuple(self.graph.shape_of(i)) for i in inputs]
        a = d.complete(d.args(**args), in_shapes)
        shape = tuple(d.infer(a, in_shapes))
        params, macs = d.cost(a, in_shapes, shape)
        k = len(self.graph.nodes)
        self.graph.nodes.append(Node(name=name, op=op, args=a, inputs=inputs, in_shapes=in_shapes, shape=shape,
                                     params=params, macs=macs, loc=Location("test.yaml", 10 + k, 5),
                                     path=f"graph[{k}]"))
        return name

    def out(self, *names: str) -> Graph:
        self.graph.outputs = list(names)
        return self.graph


def residual_graph() -> Graph:
    """conv(bn, relu) -> conv(bn) -> add(shortcut) -> relu -> 1x1 conv with bias."""
    b = GraphBuilder("residual", image=(1, 3, 12, 12))
    b.add("stem", "conv", "image", out=8, k=3, bn=True, act="relu")
    b.add("c3.0.conv1", "conv", "stem", out=8, k=3, bn=True, act="relu")
    b.add("c3.0.conv2", "conv", "c3.0.conv1", out=8, k=3, bn=True)
    b.add("c3.0.add", "add", ["c3.0.conv2", "stem"])
    b.add("c3.0.relu", "act", "c3.0.add", fn="relu")
    b.add("head", "conv", "c3.0.relu", out=5, k=1)
    return b.out("head")


def two_io_graph() -> Graph:
    """Two inputs, two outputs (returned in the order listed, not the order computed)."""
    b = GraphBuilder("two_io", a=(2, 3, 8, 8), b=(2, 4, 8, 8))
    b.add("pa", "conv", "a", out=6, k=3, bn=True, act="relu")
    b.add("pb", "conv", "b", out=6, k=1, bn=True, act="relu")
    b.add("sum", "add", ["pa", "pb"])
    b.add("cat", "concat", ["pa", "b"])
    b.add("mix", "conv", "cat", out=3, k=3, stride=2, dilation=1)
    return b.out("mix", "sum")


def rand(shape, seed=0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def inputs_of(graph: Graph, seed=0) -> list[Tensor]:
    return [rand(s, seed + k) for k, s in enumerate(graph.inputs.values())]


def as_list(out) -> list[np.ndarray]:
    return [t.asnumpy() for t in (out if isinstance(out, tuple) else (out,))]


def randomize_bn(net: nn.Cell, seed=1) -> None:
    """Non-trivial BN statistics, so inference-mode numbers depend on them."""
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        if p.name.endswith("moving_mean") or p.name.endswith("beta"):
            p.set_data(Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.1))
        elif p.name.endswith("moving_variance") or p.name.endswith("gamma"):
            p.set_data(Tensor(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))


@pytest.fixture
def graph_mode():
    before = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=before)


@pytest.fixture
def pynative_mode():
    before = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=before)


class _NoArgs(OpArgs):
    pass


def _test_op(name: str, make_cell) -> str:
    """Register a test-only op (same shape out as in, no parameters) once per session."""
    if name not in registry.names():
        registry.register(OpDef(name=name, args=_NoArgs, infer=lambda a, s: tuple(s[0]),
                                lower=lambda node: make_cell()))
    return name


# ----------------------------------------------------------------------------- running
@pytest.mark.parametrize("make", [residual_graph, two_io_graph], ids=["residual", "two_io"])
def test_pynative_and_graph_mode_agree(make, pynative_mode):
    g = make()
    net = build_cell(g)
    randomize_bn(net)
    xs = inputs_of(g)
    eager = as_list(run(net, *xs))
    ms.set_context(mode=ms.GRAPH_MODE)
    compile_cell(net, *xs)
    graph = as_list(run(net, *xs))
    assert len(eager) == len(graph) == len(g.outputs)
    for e, o, name in zip(eager, graph, g.outputs):
        assert e.shape == tuple(g.shape_of(name))
        assert np.abs(e - o).max() < TOL


def test_mindspore_jit_agrees(pynative_mode):
    g = residual_graph()
    net = build_cell(g)
    randomize_bn(net)
    x = inputs_of(g)[0]
    (eager,) = as_list(net(x))
    (jitted,) = as_list(ms.jit(net)(x))
    assert np.abs(eager - jitted).max() < TOL


def test_outputs_single_tensor_or_tuple_in_graph_order(pynative_mode):
    single = build_cell(residual_graph())(inputs_of(residual_graph())[0])
    assert isinstance(single, Tensor)
    g = two_io_graph()
    mix, total = build_cell(g)(*inputs_of(g))
    assert mix.shape == (2, 3, 4, 4) and total.shape == (2, 6, 8, 8)


def test_construct_is_straight_line_code_naming_the_nodes():
    g = residual_graph()
    net = build_cell(g)
    src = inspect.getsource(net.construct)
    assert src == net.construct_source
    assert "for " not in src and "while " not in src
    for i, node in enumerate(g.nodes):
        assert f"self.nodes[{i}](" in src and f"# {node.name}: {node.op}(" in src
    assert "test.yaml:13:5" in src  # c3.0.conv2's location
    assert [type(c).__name__ for c in net.nodes] == ["Conv2dBnAct"] * 3 + ["Add", "ReLU", "Conv2dBnAct"]


def test_inference_mode_by_default():
    net = build_cell(residual_graph())
    assert all(not cell.training for _, cell in net.cells_and_names())


def test_intermediates_are_freed_in_pynative(pynative_mode):
    """A value nothing reads any more is released before the network returns."""
    seen = {}

    class Record(nn.Cell):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()

        def construct(self, x):
            seen["ref"] = weakref.ref(x)
            return self.relu(x)

    class Check(nn.Cell):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()

        def construct(self, x):
            gc.collect()
            seen["alive"] = seen["ref"]() is not None
            return self.relu(x)

    b = GraphBuilder("free", image=(1, 3, 8, 8))
    b.add("a", "conv", "image", out=4, k=3)
    b.add("rec", _test_op("_test_record", Record), "a")  # last reader of 'a'
    b.add("b", "conv", "rec", out=4, k=3)
    b.add("chk", _test_op("_test_check", Check), "b")
    net = build_cell(b.out("chk"))
    net(inputs_of(b.graph)[0])
    assert seen["alive"] is False


# ----------------------------------------------------------------------------- parameters
def test_param_count_matches_graph():
    for make in (residual_graph, two_io_graph):
        g = make()
        net = build_cell(g)
        assert sum(p.size for p in net.trainable_params()) == g.total_params
    b = GraphBuilder("bn", image=(1, 3, 8, 8))
    b.add("conv", "conv", "image", out=4, k=3, bias=True)
    b.add("bn", "batchnorm", "conv")
    g = b.out("bn")
    assert sum(p.size for p in build_cell(g).trainable_params()) == g.total_params == 4 * 27 + 4 + 2 * 4


def test_param_names_follow_node_names_and_are_stable(graph_mode):
    g = residual_graph()
    n1, n2 = build_cell(g), build_cell(g)
    names = [p.name for p in n1.get_parameters()]
    assert names == [p.name for p in n2.get_parameters()]
    assert len(set(names)) == len(names)
    assert {"c3.0.conv2.conv.weight"} | {f"c3.0.conv2.{s}" for s in BN_SUFFIXES} <= set(names)
    assert "head.conv.weight" in names and "head.conv.bias" in names
    node_names = {n.name for n in g.nodes}
    assert all(any(n.startswith(node + ".") for node in node_names) for n in names)
    assert list(n1.parameters_dict()) == names
    assert [p.name for p in n1.trainable_params()] == [n for n in names if "moving_" not in n]
    compile_cell(n1, *inputs_of(g))  # GRAPH_MODE accepts the dotted names


def test_names_survive_adoption_by_a_parent_cell():
    class Wrapper(nn.Cell):
        def __init__(self, net):
            super().__init__()
            self.backbone = net

        def construct(self, x):
            return self.backbone(x)

    w = Wrapper(build_cell(residual_graph()))
    names = [p.name for p in w.get_parameters()]
    assert "backbone.c3.0.conv2.conv.weight" in names
    assert all(n.startswith("backbone.") and ".nodes." not in n for n in names)


def test_checkpoint_round_trip_by_name(tmp_path, pynative_mode):
    g = residual_graph()
    src, dst = build_cell(g), build_cell(g)
    randomize_bn(src, seed=3)
    path = str(tmp_path / "net.ckpt")
    ms.save_checkpoint(src, path)
    loaded = ms.load_checkpoint(path)
    assert set(loaded) == {p.name for p in src.get_parameters()}
    not_loaded, unused = ms.load_param_into_net(dst, loaded, strict_load=True)
    assert not_loaded == [] and unused == []
    for p, q in zip(src.get_parameters(), dst.get_parameters()):
        assert p.name == q.name and np.array_equal(p.asnumpy(), q.asnumpy())
    x = inputs_of(g)[0]
    assert np.abs(as_list(src(x))[0] - as_list(dst(x))[0]).max() == 0


# ----------------------------------------------------------------------------- fusion checks
def test_every_conv_bn_is_one_conv2dbnact():
    g = residual_graph()
    net = build_cell(g)
    assert count_fused(net) == sum(1 for n in g.nodes if n.op == "conv" and n.args.bn) == 3
    assert find_unfused_conv_bn(net) == []
    assert find_unfused_conv_bn(build_cell(two_io_graph())) == []


def test_find_unfused_conv_bn_finds_a_plain_pair():
    seq = nn.SequentialCell([nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()])
    assert find_unfused_conv_bn(seq) == ["0"]
    assert count_fused(seq) == 0
    fused = nn.SequentialCell([nn.Conv2dBnAct(3, 4, 3, has_bn=True, activation="relu"), nn.BatchNorm2d(4)])
    assert find_unfused_conv_bn(fused) == []  # conv -> its own BN -> ReLU, then another BN: not a pair
    # a conv node without bn followed by a batchnorm node: the lowering keeps them apart
    b = GraphBuilder("unfused", image=(1, 3, 8, 8))
    b.add("conv", "conv", "image", out=4, k=3)
    b.add("bn", "batchnorm", "conv")
    assert find_unfused_conv_bn(build_cell(b.out("bn"))) == ["nodes.0.conv"]


# ----------------------------------------------------------------------------- errors
class _Mismatch(nn.Cell):
    """Fails MindSpore's shape inference: [.., W] @ [5, 7] with W != 5."""

    def __init__(self):
        super().__init__()
        self.w = Tensor(np.ones((5, 7), np.float32))

    def construct(self, x):
        return ops.matmul(x, self.w)


def bad_graph() -> Graph:
    b = GraphBuilder("bad", image=(1, 3, 8, 8))
    b.add("stem", "conv", "image", out=4, k=3, bn=True, act="relu")
    b.add("c4.1.bad", _test_op("_test_mismatch", _Mismatch), "stem")
    b.add("head", "conv", "c4.1.bad", out=2, k=1)
    return b.out("head")


def _assert_names_bad_node(err: SpecError, what: str):
    assert "node 'c4.1.bad'" in err.message and f"failed to {what}" in err.message
    assert str(err.loc) == "test.yaml:11:5" and err.path == "graph[1]"
    assert "MatMul" in err.message  # MindSpore's own reason, first line only
    assert isinstance(err.__cause__, Exception) and not isinstance(err.__cause__, SpecError)


def test_graph_compile_failure_names_the_node(graph_mode, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MindSpore writes rank_0/om/analyze_fail.ir to the working directory
    g = bad_graph()
    x = inputs_of(g)[0]
    with pytest.raises(SpecError) as ei:
        compile_cell(build_cell(g), x)
    _assert_names_bad_node(ei.value, "compile")
    with pytest.raises(SpecError) as ei:
        run(build_cell(g), x)
    _assert_names_bad_node(ei.value, "run")


def test_pynative_failure_names_the_node(pynative_mode):
    g = bad_graph()
    with pytest.raises(SpecError) as ei:
        run(build_cell(g), inputs_of(g)[0])
    _assert_names_bad_node(ei.value, "run")


def test_lowering_failure_names_the_node():
    def boom():
        raise ValueError("unsupported setting")

    b = GraphBuilder("boom", image=(1, 3, 8, 8))
    b.add("x.y", _test_op("_test_boom", boom), "image")
    with pytest.raises(SpecError) as ei:
        build_cell(b.out("x.y"))
    assert "node 'x.y'" in ei.value.message and "unsupported setting" in ei.value.message
    assert str(ei.value.loc) == "test.yaml:10:5"


def test_duplicate_node_names_are_rejected():
    b = GraphBuilder("dup", image=(1, 3, 8, 8))
    b.add("a", "conv", "image", out=4, k=3)
    b.add("a", "conv", "a", out=4, k=3)
    with pytest.raises(SpecError, match="used twice"):
        build_cell(b.out("a"))
