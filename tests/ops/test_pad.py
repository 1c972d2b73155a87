"""The `pad` op (constant padding of H and W) and the `padding_style` switch of the MobileNetV2
DeepLabV3+ spec that uses it (VainF's padding; exactness against PyTorch: test_vainf_mobilenet.py).

The numerical reference is `np.pad` with a constant, i.e. PyTorch's `F.pad(x, (l, r, t, b), value=v)`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import archspec
from archspec.graph.ir import Node
from archspec.ops import ShapeError, get, names

REPO = Path(__file__).resolve().parents[2]
MBV2 = REPO / "specs" / "deeplabv3p_mobilenetv2.yaml"


def build(args: dict, in_shape):
    d = get("pad")
    a = d.complete(d.args(**args), [tuple(in_shape)])
    shape = d.infer(a, [tuple(in_shape)])
    return a, tuple(shape), d.cost(a, [tuple(in_shape)], shape)


def node(args: dict, in_shape) -> Node:
    a, shape, (params, macs) = build(args, in_shape)
    return Node(name="p", op="pad", args=a, inputs=["x0"], in_shapes=[tuple(in_shape)], shape=shape,
                params=params, macs=macs)


def ref_pad(x, pads, value):
    t, b, l, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------- rules
def test_registered_with_examples():
    assert "pad" in names()
    for ex in get("pad").examples:
        get("pad").args(**{k: v for k, v in ex.items() if k != "op"})


@pytest.mark.parametrize("pad, out_hw", [
    (1, (7, 8)),                # every side
    ((2, 0), (9, 6)),           # [h, w]: top/bottom 2, left/right 0
    ((0, 1, 2, 3), (6, 11)),    # [top, bottom, left, right]
    (0, (5, 6)),                # a no-op is allowed
])
def test_shape_and_cost(pad, out_hw):
    a, shape, cost = build({"pad": pad}, (2, 3, 5, 6))
    assert shape == (2, 3) + out_hw
    assert cost == (0, 0)
    assert a.value == 0.0


@pytest.mark.parametrize("args", [
    {"pad": -1},
    {"pad": [1, -1]},
    {"pad": [0, 0, 0, -2]},
    {"pad": [1, 2, 3]},
    {"pad": [1, 2, 3, 4, 5]},
    {"pad": True},
    {"pad": 1.0},
    {"pad": 1, "value": True},
    {"pad": 1, "value": float("nan")},
    {"pad": 1, "value": "zero"},
    {},
    {"pad": 1, "mode": "reflect"},
])
def test_pydantic_rejects(args):
    with pytest.raises(ValidationError):
        get("pad").args(**args)


def test_needs_4d_input():
    with pytest.raises(ShapeError, match="4-D NCHW"):
        build({"pad": 1}, (2, 12))


def test_spec_errors_point_at_the_argument(tmp_path):
    from archspec.errors import SpecError, SpecErrors

    p = tmp_path / "s.yaml"
    p.write_text("archspec: 1\nname: t\ninput: {image: [1, 3, 8, 8]}\ngraph:\n"
                 "  - {id: p, op: pad, pad: [1, -1]}\n")
    with pytest.raises((SpecError, SpecErrors)) as info:
        archspec.resolve(archspec.load(p))
    errs = getattr(info.value, "errors", [info.value])
    assert len(errs) == 1 and errs[0].loc.line == 5 and "greater than or equal to 0" in errs[0].message


def test_a_padded_conv_in_a_spec(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("archspec: 1\nname: t\ninput: {image: [1, 3, 8, 8]}\ngraph:\n"
                 "  - {id: p, op: pad, pad: [1, 2, 0, 3]}\n"
                 "  - {id: c, op: conv, out: 4, k: 3, padding: 0}\n")
    g = archspec.resolve(archspec.load(p))
    shapes = {n.name: n.shape for n in g.nodes}
    assert shapes["p"] == (1, 3, 11, 11) and shapes["c"] == (1, 4, 9, 9)
    assert g.total_params == 4 * 3 * 9 + 4


# ----------------------------------------------------------------------------- lowering
@pytest.fixture(scope="module")
def ms():
    mindspore = pytest.importorskip("mindspore")
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    return mindspore


CASES = [
    ({"pad": 1}, (1, 3, 5, 6)),
    ({"pad": [2, 1]}, (2, 2, 4, 3)),
    ({"pad": [0, 1, 3, 0], "value": -1.5}, (1, 2, 5, 5)),
    ({"pad": [1, 0, 0, 2], "value": float("-inf")}, (1, 1, 3, 4)),
    ({"pad": 0}, (1, 2, 3, 3)),
]


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_lowered_matches_numpy(ms, mode):
    from archspec.ops.pad import pads

    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    try:
        for i, (args, shape) in enumerate(CASES):
            n = node(args, shape)
            cell = get("pad").lower(n)
            cell.set_train(False)
            assert not list(cell.get_parameters())
            x = rand(*shape, seed=i)
            y = cell(ms.Tensor(x)).asnumpy()
            assert y.shape == n.shape
            assert np.array_equal(y, ref_pad(x, pads(n.args), n.args.value)), args
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


def test_exports_to_mindir_and_onnx(ms, tmp_path):
    n = node({"pad": [1, 2, 0, 3], "value": 0.5}, (1, 2, 4, 4))
    cell = get("pad").lower(n)
    x = rand(1, 2, 4, 4, seed=3)
    ms.export(cell, ms.Tensor(x), file_name=str(tmp_path / "m"), file_format="MINDIR")
    assert (tmp_path / "m.mindir").exists()
    ms.export(cell, ms.Tensor(x), file_name=str(tmp_path / "m"), file_format="ONNX")
    assert (tmp_path / "m.onnx").exists()
    ort = pytest.importorskip("onnxruntime")
    s = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    y = s.run(None, {s.get_inputs()[0].name: x})[0]
    assert np.array_equal(y, ref_pad(x, (1, 2, 0, 3), 0.5))
    assert get("pad").export_check(n, "onnx", {}) == ""


# ----------------------------------------------------------------------------- padding_style
def resolved(**sets):
    return archspec.resolve(archspec.load(MBV2, overrides=sets))


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("size", [65, 67, 513])
def test_both_padding_styles_validate(output_stride, size):
    from archspec.ops.common import pair

    tv = resolved(output_stride=output_stride, size=size)
    vf = resolved(output_stride=output_stride, size=size, padding_style="vainf")
    assert tv.params["padding_style"] == "torchvision"
    assert not [n for n in tv.nodes if n.op == "pad"]  # the default graph is the torchvision one
    pads = [n for n in vf.nodes if n.op == "pad"]
    assert len(pads) == 17 and all(n.params == 0 and n.macs == 0 for n in pads)
    # the same weights, by name and shape: the pad nodes add none
    weights = lambda g: [(n.name, n.params) for n in g.nodes if n.params]  # noqa: E731
    assert weights(tv) == weights(vf) and tv.total_params == vf.total_params
    shape = {n.name: n.shape for n in vf.nodes}
    stem = (size - 3) // 2 + 1  # VainF's stem has no padding: 513 -> 256, 65 -> 32, 67 -> 33
    assert shape["stem"][2:] == (stem, stem)
    assert {n.name: n.shape for n in tv.nodes}["stem"][2:] == ((size + 1) // 2,) * 2
    # the pad is by the depthwise conv's dilation, which then pads nothing
    for p in pads:
        block = p.name.rsplit(".", 1)[0]
        dw = next(n for n in vf.nodes if n.name == block + ".dw")
        assert pair(p.args.pad) == pair(dw.args.dilation) and pair(dw.args.padding) == (0, 0)
    # the residual adds the unpadded block input
    for a in (n for n in vf.nodes if n.op == "add" and n.name.startswith("s")):
        assert not any(i.endswith(".pad") for i in a.inputs), a
    assert vf.outputs == tv.outputs and shape["out"] == (1, 21, size, size)


def test_vainf_macs_match_torch_ref_table():
    # tests/oracles/torch_ref.py's table (VainF padding, 513x513, 2 decoder convs): 26.481 G at OS16, 40.305 G at OS8
    assert round(resolved(padding_style="vainf").total_macs / 1e6) == 26481
    assert round(resolved(padding_style="vainf", output_stride=8).total_macs / 1e6) == 40305


def test_unknown_padding_style_is_an_error():
    from archspec.errors import SpecError, SpecErrors

    with pytest.raises((SpecError, SpecErrors), match="vainf"):
        resolved(padding_style="vanf")


def test_vainf_style_exports_to_onnx(ms, tmp_path):
    """The whole VainF-padded network exports (pads as Concat) and onnxruntime computes the same."""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from archspec.runtime.export import export

    spec = archspec.load(MBV2, overrides={"size": 67, "output_stride": 8, "padding_style": "vainf"})
    graph = archspec.resolve(spec)
    ms.set_seed(0)
    net = archspec.build(graph).net
    report = export(graph, net, "onnx", tmp_path / "v.onnx", spec=spec)
    assert report.verified_with.startswith("onnxruntime")
    ops = {n.op_type for n in onnx.load(str(report.path)).graph.node}
    assert "Concat" in ops and not ops & {"Pad", "SequenceConstruct"}, ops
