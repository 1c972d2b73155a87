"""specs/unet.yaml (transposed-conv upsampling) against a PyTorch U-Net in milesial/Pytorch-UNet's
layout (tests/torch_ref.py UNet): parameter counts at the paper's width and the small default,
and equal outputs with the same weights, carried over by the shipped weight map
(specs/maps/unet.yaml) through `import_weights`, at an odd size where the upsampled maps are
padded to their skip connections."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import archspec
from conftest import SPECS
from torch_ref import UNet, count_params, export_state_dict_npz, randomize_bn


@pytest.mark.parametrize("base,bn", [(64, True), (16, True), (8, False)])
def test_parameter_count_equals_pytorch(base, bn):
    graph = archspec.resolve(archspec.load(SPECS / "unet.yaml", overrides={"base": base, "bn": bn}))
    assert graph.total_params == count_params(UNet(3, 2, base=base, bn=bn))
    if base == 64:
        assert graph.total_params == 31_037_698  # milesial's UNet(3, 2, bilinear=False)


def test_outputs_equal_pytorch_with_weights_imported_through_the_map(ms, tmp_path):
    from mindspore import load_checkpoint

    from archspec.lower import build_cell
    from archspec.lower.fold import load_arrays
    from archspec.api import import_weights

    overrides = {"base": 8, "num_classes": 3, "size": 37}  # 37 -> 18 -> 9 -> 4 -> 2: two ups are padded
    graph = archspec.resolve(archspec.load(SPECS / "unet.yaml", overrides=overrides))
    assert [n.shape[2:] for n in graph.nodes if n.op == "pad"] == [(4, 4), (9, 9), (18, 18), (37, 37)]
    model = randomize_bn(UNet(3, 3, base=8), seed=1, input_shape=(2, 3, 37, 37)).eval()
    export_state_dict_npz(model, tmp_path / "unet.npz")
    report = import_weights(SPECS / "unet.yaml", tmp_path / "unet.npz", tmp_path / "unet.ckpt", overrides=overrides)
    assert report.complete and report.written == len(graph.parameters())
    net = build_cell(graph)
    load_arrays(net, {k: v.asnumpy() for k, v in load_checkpoint(str(tmp_path / "unet.ckpt")).items()})
    x = np.random.default_rng(0).standard_normal((1, 3, 37, 37)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = net(ms.Tensor(x)).asnumpy()
    assert got.shape == want.shape == (1, 3, 37, 37)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
