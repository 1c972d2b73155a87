"""The NumPy Winograd kernel for large 3x3 convs (archspec.kernels.winograd), its lowering
(`conv.winograd=on`), when the runtime picks it, and the OpenBLAS core fix it relies on.

Exactness is checked against a float64 direct convolution: the kernel must stay within a few
float32 ulps of the output scale, like any float32 convolution.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from archspec.kernels import winograd as wg
from archspec.runtime.isa import cpu_flags

TOL = 2e-6  # of the output's largest magnitude; float32 direct convs land near 3e-7


def direct_conv(x, w, b, act):
    """float64 reference: 3x3, stride 1, padding 1."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, h, width = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros((n, w.shape[0], h, width))
    for dy in range(3):
        for dx in range(3):
            y += np.einsum("kc,nchw->nkhw", w[:, :, dy, dx], xp[:, :, dy:dy + h, dx:dx + width])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    if act == "relu":
        y = np.maximum(y, 0)
    elif act == "relu6":
        y = np.clip(y, 0, 6)
    return y


def case(n, c, k, h, w, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c, h, w)) * scale).astype(np.float32)
    wt = (rng.standard_normal((k, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = (rng.standard_normal(k) * 0.5).astype(np.float32)
    return x, wt, b


def rel_err(y, ref):
    return float(np.max(np.abs(y - ref)) / max(np.max(np.abs(ref)), 1e-30))


# ----------------------------------------------------------------------------- the kernel
@pytest.mark.parametrize("n,c,k,h,w,act", [
    (1, 3, 5, 1, 1, None),  # a single pixel: every tap but the centre is padding
    (2, 4, 3, 5, 7, "relu"),  # odd sizes: the last tile row and column are half outside
    (1, 8, 6, 33, 34, "relu6"),
    (1, 16, 8, 40, 17, None),
    (1, 5, 7, 2, 3, "relu"),
    (3, 2, 2, 6, 6, "relu6"),
])
def test_matches_direct_convolution(n, c, k, h, w, act):
    x, wt, b = case(n, c, k, h, w, seed=h * w + c)
    y = wg.conv3x3(x, wt, b, act)
    assert y.shape == (n, k, h, w) and y.dtype == np.float32
    assert rel_err(y, direct_conv(x, wt, b, act)) < TOL


def test_relu6_clips_and_no_bias_means_zero_bias():
    x, wt, _ = case(1, 6, 4, 9, 9, scale=20.0)  # large enough that many outputs pass 6
    y = wg.conv3x3(x, wt, None, "relu6")
    assert y.max() == 6.0 and y.min() == 0.0
    assert rel_err(y, direct_conv(x, wt, None, "relu6")) < TOL


@pytest.mark.parametrize("band_bytes", [1, 40_000, 1 << 30])
def test_bands_give_the_same_result(monkeypatch, band_bytes):
    """One tile row per band, a few bands, one band: the band seams must not show."""
    monkeypatch.setattr(wg, "_BAND_BYTES", band_bytes)
    x, wt, b = case(2, 7, 9, 23, 19, seed=3)
    assert rel_err(wg.conv3x3(x, wt, b, "relu"), direct_conv(x, wt, b, "relu")) < TOL


def test_workspace_reuse_across_layer_shapes_leaves_no_stale_padding():
    """Layers of different sizes share the scratch buffers; a large layer's pixels must never
    leak into a smaller layer's zero padding."""
    big = case(1, 12, 10, 30, 31, seed=1, scale=100.0)
    small = case(1, 5, 4, 7, 6, seed=2)
    for x, wt, b in (big, small, big, small):
        assert rel_err(wg.conv3x3(x, wt, b, None), direct_conv(x, wt, b, None)) < TOL


def test_weight_cache_follows_weights_changed_in_place():
    cache = wg._WeightCache()
    x, wt, b = case(1, 4, 4, 8, 8)
    first = wg.conv3x3(x, wt, b, None, u=cache.get(wt))
    wt *= 2.0  # in place, as set_data would: same array, new values
    second = wg.conv3x3(x, wt, b, None, u=cache.get(wt))
    assert rel_err(second, direct_conv(x, wt, b, None)) < TOL
    assert not np.allclose(first, second)


def test_single_thread_matches(monkeypatch):
    monkeypatch.setattr(wg, "_threads", lambda: 1)
    x, wt, b = case(1, 9, 6, 21, 21)
    assert rel_err(wg.conv3x3(x, wt, b, "relu"), direct_conv(x, wt, b, "relu")) < TOL


def test_empty_images_and_no_input_channels():
    assert wg.conv3x3(np.zeros((1, 3, 0, 5), np.float32), np.ones((2, 3, 3, 3), np.float32)).shape == (1, 2, 0, 5)
    y = wg.conv3x3(np.zeros((1, 0, 4, 4), np.float32), np.ones((2, 0, 3, 3), np.float32), np.array([-1.0, 7.0]),
                   "relu6")
    assert np.array_equal(y, np.broadcast_to(np.array([0.0, 6.0])[None, :, None, None], (1, 2, 4, 4)))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("threads", [1, 2])
def test_inf_input_stays_local_and_quiet(monkeypatch, threads):
    monkeypatch.setattr(wg, "_threads", lambda: threads)
    x, wt, b = case(1, 3, 4, 12, 12)
    x[0, 1, 5, 6] = np.inf
    with np.errstate(all="raise"):  # the kernel must not warn (or raise) per call
        y = wg.conv3x3(x, wt, b, None)
    bad = ~np.isfinite(y[0])
    assert bad.any()
    rows, cols = np.nonzero(bad.any(axis=0))
    assert rows.min() >= 4 and rows.max() <= 6 and cols.min() >= 5 and cols.max() <= 7  # the 3x3 neighbourhood


def test_forked_child_can_run_the_kernel():
    """The parent's thread pool does not survive fork(); the child must not wait on it forever."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = (
        "import os, sys, numpy as np\n"
        "from archspec.kernels import winograd as wg\n"
        "wg._threads = lambda: 2\n"
        "x = np.ones((1, 8, 20, 20), np.float32); w = np.ones((8, 8, 3, 3), np.float32)\n"
        "wg.conv3x3(x, w)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    y = wg.conv3x3(x, w); os._exit(0 if y[0, 0, 10, 10] == 72 else 3)\n"
        "_, status = os.waitpid(pid, 0); sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("call,needle", [
    (lambda: wg.conv3x3(np.zeros((1, 3, 4, 4), np.float32), np.zeros((2, 3, 3, 3), np.float32),
                        u=np.zeros((16, 1, 3), np.float32)), "u must be transform_weights"),
    (lambda: wg.conv3x3(np.zeros((1, 3, 4, 4), np.float32), np.zeros((2, 3, 3, 3), np.float32), act="gelu"),
     "act must be one of"),
    (lambda: wg.conv3x3(np.zeros((1, 3, 4, 4), np.float32), np.zeros((2, 4, 3, 3), np.float32)), "conv3x3 needs"),
    (lambda: wg.conv3x3(np.zeros((1, 3, 4, 4), np.float32), np.zeros((2, 3, 5, 5), np.float32)), "conv3x3 needs"),
])
def test_bad_arguments(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


# ----------------------------------------------------------------------------- which convs qualify
def conv_node(cin=256, out=256, size=129, **args):
    from archspec.graph.ir import Node
    from archspec.ops import registry

    d = registry.get("conv")
    base = {"out": out, "k": 3, "bias": True, "act": "relu"}
    base.update(args)
    in_shapes = [(1, cin, size, size)]
    a = d.complete(d.args(**base), in_shapes)
    shape = tuple(d.infer(a, in_shapes))
    params, macs = d.cost(a, in_shapes, shape)
    return Node(name="c", op="conv", args=a, inputs=["image"], in_shapes=in_shapes, shape=shape, params=params, macs=macs)


@pytest.mark.parametrize("node_args,eligible", [
    ({}, True),  # the DeepLabV3+ decoder conv after folding
    ({"act": "relu6"}, True),
    ({"act": None}, True),
    ({"stride": 2}, False),
    ({"dilation": 2}, False),
    ({"k": 1}, False),
    ({"groups": 2}, False),
    ({"bn": True, "bias": False}, False),  # not folded: BatchNorm stays MindSpore's
    ({"act": "leakyrelu"}, False),
    ({"padding": 0}, False),
    ({"size": 33}, False),  # 0.6 GMACs: below WINOGRAD_MIN_MACS
    ({"cin": 512, "out": 512, "size": 33}, True),
    ({"cin": 128, "out": 128, "size": 257}, False),  # enough MACs, too few channels
])
def test_eligibility(node_args, eligible):
    from archspec.ops.conv import winograd_eligible

    shape = {k: node_args.pop(k) for k in ("cin", "out", "size") if k in node_args}
    assert winograd_eligible(conv_node(**shape, **node_args)) is eligible


@pytest.mark.parametrize("spec,convs", [
    ("deeplabv3p_mobilenetv2.yaml", ["decoder.fuse.0", "decoder.fuse.1"]),
    # ResNet-50 at output stride 16: layer4's first 3x3 keeps dilation 1 (the others are dilated)
    ("deeplabv3p.yaml", ["layer4.0.conv2", "decoder.fuse.0", "decoder.fuse.1"]),
    ("resnet50.yaml", []),  # at 224x224 every 3x3 is below the thresholds
])
def test_which_convs_of_the_shipped_specs_qualify(spec, convs):
    from pathlib import Path

    from archspec.cli import load_graph
    from archspec.graph.passes import fold_bn
    from archspec.ops.conv import winograd_eligible

    _, graph = load_graph(Path(__file__).resolve().parents[1] / "specs" / spec, None, None)
    assert [n.name for n in fold_bn(graph).nodes if n.op == "conv" and winograd_eligible(n)] == convs
    assert not any(winograd_eligible(n) for n in graph.nodes if n.op == "conv"), "unfolded convs carry BN"


def test_export_refuses_the_winograd_lowering():
    from archspec.ops import registry

    node = conv_node()
    assert "only in-process on CPU" in registry.get("conv").export_check(node, "mindir", {"winograd": "on"})
    assert registry.get("conv").export_check(node, "mindir", {"winograd": "off"}) == ""


# ----------------------------------------------------------------------------- lowering, in MindSpore
def test_lowered_net_matches_mindspore_conv_in_graph_and_pynative(ms, monkeypatch):
    from archspec.graph.ir import Graph
    from archspec.lower import build_cell
    from archspec.lower.fold import load_arrays, net_arrays
    from archspec.ops import conv as conv_op
    from archspec.ops.cells import WinogradConv2d

    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_MACS", 0)
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_CHANNELS", 1)
    n1 = conv_node(cin=6, out=8, size=13)
    n2 = conv_node(cin=8, out=5, size=13, act="relu6")
    n2.name, n2.inputs, n2.in_shapes = "d", ["c"], [n1.shape]
    graph = Graph(name="g", inputs={"image": (2, 6, 13, 13)}, nodes=[n1, n2], outputs=["d"])
    native = build_cell(graph)
    wino = build_cell(graph, options={"conv.winograd": "on"})
    assert sum(isinstance(c, WinogradConv2d) for c in wino.nodes) == 2
    assert wino.lower_options["conv.winograd"] == "on"
    # the same parameter names, so checkpoints move between the lowerings
    assert sorted(net_arrays(native)) == sorted(net_arrays(wino)) == ["c.conv.bias", "c.conv.weight",
                                                                       "d.conv.bias", "d.conv.weight"]
    load_arrays(wino, net_arrays(native))
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 6, 13, 13)).astype(np.float32))
    ref = native(x).asnumpy()
    for mode in (ms.PYNATIVE_MODE, ms.GRAPH_MODE):
        ms.set_context(mode=mode)
        try:
            got = wino(x).asnumpy()
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        assert rel_err(got, ref) < 1e-5, mode


def test_export_of_a_winograd_net_lowers_convs_back(ms, tmp_path, monkeypatch):
    """The user's net may run the kernel; the exported MindIR must not (it could not load)."""
    from archspec.graph.ir import Graph
    from archspec.lower import build_cell
    from archspec.ops import conv as conv_op
    from archspec.runtime.export import export

    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_MACS", 0)
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_CHANNELS", 1)
    node = conv_node(cin=4, out=4, size=9)
    graph = Graph(name="g", inputs={"image": (1, 4, 9, 9)}, nodes=[node], outputs=["c"])
    net = build_cell(graph, options={"conv.winograd": "on"})
    report = export(graph, net, "mindir", tmp_path / "m.mindir", fold=False)
    assert report.lowering["conv.winograd"] == "off"
    assert report.max_abs_diff is not None and report.max_abs_diff < 1e-5


# ----------------------------------------------------------------------------- runtime choice
def test_choice_follows_device_flag_and_blas(monkeypatch):
    from archspec.runtime import cpu_kernels, isa

    monkeypatch.setattr(isa, "numpy_blas_core", lambda: "SkylakeX")
    assert cpu_kernels.choose("CPU").options == {"conv.winograd": "on"}
    assert cpu_kernels.choose("CPU", enabled=False).options == {}
    assert cpu_kernels.choose("Ascend").options == {}
    monkeypatch.setattr(isa, "numpy_blas_core", lambda: "Prescott")
    slow = cpu_kernels.choose("CPU")
    assert slow.options == {} and "Prescott" in slow.reason and "OPENBLAS_CORETYPE" in slow.reason
    for core, fast in (("Sandybridge", False), ("Unknown", False), ("Zen", True), ("Haswell", True)):
        monkeypatch.setattr(isa, "numpy_blas_core", lambda core=core: core)
        assert bool(cpu_kernels.choose("CPU").options) is fast, core
    monkeypatch.setattr(isa, "numpy_blas_core", lambda: None)  # NumPy on another BLAS (MKL, Accelerate)
    assert cpu_kernels.choose("CPU").options == {"conv.winograd": "on"}


def _fresh_python(code: str, **env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "ARCHSPEC_SET_OPENBLAS_CORETYPE")}
    clean.update(env)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(not {"avx2", "fma"} <= cpu_flags(), reason="needs an x86 CPU with AVX2")
def test_blas_fix_sets_the_core_numpy_then_runs():
    want = "SkylakeX" if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= cpu_flags() else "Haswell"
    said, core = _fresh_python(
        "from archspec.runtime.isa import apply_blas_fix, numpy_blas_core\n"
        "print(apply_blas_fix()); print(numpy_blas_core())").splitlines()
    assert said.startswith(f"OPENBLAS_CORETYPE={want}") and core == want


def test_blas_fix_keeps_a_user_value_and_knows_when_it_is_too_late():
    out = _fresh_python("from archspec.runtime.isa import apply_blas_fix; print(apply_blas_fix())",
                        OPENBLAS_CORETYPE="Haswell")
    assert out == "kept OPENBLAS_CORETYPE=Haswell (set by the user)"
    out = _fresh_python("import numpy\nfrom archspec.runtime.isa import apply_blas_fix; print(apply_blas_fix())")
    assert out.startswith("not applied: NumPy was imported first")
