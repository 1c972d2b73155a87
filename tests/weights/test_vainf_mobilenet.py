"""VainF's DeepLabV3+ MobileNetV2 imports exactly with `--set padding_style=vainf`.

Reference: tests/oracles/torch_ref.py's `deeplabv3plus("mobilenetv2", ...)`, which is VainF's network
including its padding (`vainf_padding=True`: no stem padding, each inverted residual zero-pads its
input by the dilation before the 1x1 expansion, depthwise convs unpadded), with random weights and
random, non-trivial BatchNorm statistics (`randomize_bn`). Its state_dict goes through
`archspec weights import --set padding_style=vainf` with the shipped map, and archspec's output must
match the PyTorch model run in float64 within test_weights_import.py's bound, in PYNATIVE and GRAPH
mode. Odd input sizes exercise the stem arithmetic: 65 -> 32 (torchvision padding: 33), 67 -> 33
(34). Without the switch the same weights load but give other numbers (checked too).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import archspec  # noqa: E402

import torch_ref as R  # noqa: E402
from test_weights_import import (  # noqa: E402,F401  (ms: the MindSpore fixture)
    DEEPLAB_SPEC, TOL, assert_exact, cli, files, ms, n_params, run_both_modes, run_torch,
)

SPEC = DEEPLAB_SPEC["mobilenetv2"]


@functools.lru_cache(maxsize=None)
def vainf_reference(output_stride: int, decoder_convs: int, seed: int = 0):
    """VainF's deeplabv3plus_mobilenet (its padding), random weights and BN statistics, eval mode."""
    torch.manual_seed(seed)
    model = R.deeplabv3plus("mobilenetv2", 21, output_stride, decoder_convs=decoder_convs)
    assert model.backbone.low_level_features[0][0].padding == (0, 0), "torch_ref: VainF padding expected"
    assert all(m.input_padding is not None for m in model.modules() if isinstance(m, R.InvertedResidual))
    return R.randomize_bn(model.eval(), seed=seed).eval()


CASES = [  # output stride, decoder convs, input size
    (16, 1, 65),  # VainF's released weights: OS16, one decoder conv
    (8, 1, 67),
]


@pytest.mark.parametrize("output_stride, decoder_convs, size", [  # OS8: -m slow
    pytest.param(*c, id=f"os{c[0]}-dec{c[1]}-{c[2]}", marks=[pytest.mark.slow] if c[0] == 8 else []) for c in CASES])
def test_vainf_mobilenet_import_is_exact(ms, tmp_path, output_stride, decoder_convs, size):
    from archspec.weights.checkpoint import load_weights

    model = vainf_reference(output_stride, decoder_convs)
    src = tmp_path / "vainf.pth"
    torch.save(model.state_dict(), src)
    out = tmp_path / "vainf.ckpt"
    sets = {"size": size, "output_stride": output_stride, "decoder_convs": decoder_convs,
            "padding_style": "vainf"}
    args = ["weights", "import", SPEC, src, "--out", out]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    graph = archspec.resolve(archspec.load(SPEC, overrides=sets))
    net = archspec.build(graph).net
    assert f"mapped {n_params(net)} of the {n_params(net)} parameters" in r.stdout
    assert files(tmp_path) == ["vainf.ckpt", "vainf.pth"]
    assert load_weights(net, out).loaded == n_params(net)
    stem = {n.name: n.shape for n in graph.nodes}["stem"]
    assert stem[2:] == ((size - 3) // 2 + 1,) * 2  # as VainF's unpadded stem

    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    y32, y64 = run_torch(model, x)
    for mode, y in run_both_modes(ms, net, x).items():
        assert y.shape == y64.shape == (1, 21, size, size)
        assert_exact(y, y32, y64, f"VainF mobilenetv2 OS{output_stride} dec{decoder_convs} {size}x{size} {mode}")

    if output_stride == 16:
        # the same checkpoint in the default (torchvision-padded) spec loads, but is not VainF's network
        tv = archspec.build(archspec.resolve(archspec.load(
            SPEC, overrides={k: v for k, v in sets.items() if k != "padding_style"}))).net
        assert load_weights(tv, out).loaded == n_params(tv)
        ms.set_context(mode=ms.PYNATIVE_MODE)
        err = float(np.abs(tv(ms.Tensor(x)).asnumpy() - y64).max() / np.abs(y64).max())
        print(f"VainF weights in the torchvision-padded spec: {err:.2e}")
        assert err > 100 * TOL
