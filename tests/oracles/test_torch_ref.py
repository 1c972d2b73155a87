"""Sanity tests for the plain-PyTorch reference models in ``tests/oracles/torch_ref.py``."""

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

import torch_ref as tr  # noqa: E402
from conftest import small_first  # noqa: E402


def test_resnet50_param_count():
    assert tr.count_params(tr.resnet(50)) == 25_557_032


def test_resnet101_param_count():
    assert tr.count_params(tr.resnet(101)) == 44_549_160


def test_mobilenet_v2_param_count():
    assert tr.count_params(tr.mobilenet_v2()) == 3_504_872
    # VainF padding style: same parameters, different padding
    assert tr.count_params(tr.mobilenet_v2(output_stride=32)) == 3_504_872


def test_resnet_torchvision_keys_and_dilation():
    m = tr.resnet(50, replace_stride_with_dilation=(False, True, True))
    keys = set(m.state_dict())
    for k in ["conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
              "layer1.0.downsample.1.bias", "layer4.2.conv3.weight", "layer4.2.bn3.weight",
              "fc.weight", "fc.bias"]:
        assert k in keys, k
    assert "layer1.1.downsample.0.weight" not in keys
    # stride on the 3x3 (v1.5) for a strided stage
    assert m.layer2[0].conv2.stride == (2, 2) and m.layer2[0].conv1.stride == (1, 1)
    # dilated stages: first block keeps the previous dilation, later blocks the new one
    assert m.layer3[0].conv2.dilation == (1, 1) and m.layer3[0].conv2.stride == (1, 1)
    assert m.layer3[1].conv2.dilation == (2, 2) and m.layer3[1].conv2.padding == (2, 2)
    assert m.layer4[0].conv2.dilation == (2, 2)
    assert m.layer4[1].conv2.dilation == (4, 4) and m.layer4[2].conv2.padding == (4, 4)
    assert m.layer4[0].downsample[0].stride == (1, 1)


def test_mobilenet_v2_keys():
    keys = set(tr.mobilenet_v2().state_dict())
    for k in ["features.0.0.weight", "features.0.1.running_mean",
              "features.1.conv.0.0.weight", "features.1.conv.1.weight",
              "features.1.conv.2.weight", "features.2.conv.0.0.weight",
              "features.2.conv.1.0.weight", "features.2.conv.2.weight",
              "features.2.conv.3.running_var", "features.18.0.weight",
              "classifier.1.weight", "classifier.1.bias"]:
        assert k in keys, k


def test_mobilenet_padding_styles():
    x = torch.randn(1, 3, 65, 65)
    tv = tr.mobilenet_v2().eval()
    vf = tr.mobilenet_v2(output_stride=32).eval()
    with torch.no_grad():
        assert tv.features[0](x).shape[-1] == 33  # torchvision: padding 1
        assert vf.features[0](x).shape[-1] == 32  # VainF: padding 0 in the stem
        assert vf(x[..., :33, :33]).shape == (1, 1000)
    assert tv.features[2].conv[1][0].padding == (1, 1)
    assert vf.features[2].conv[1][0].padding == (0, 0)
    assert vf.features[2].input_padding == (1, 1, 1, 1)


def test_mobilenet_output_stride_dilation():
    m = tr.mobilenet_v2(output_stride=8)
    strides = [b.stride for b in m.features[1:18]]
    dils = [b.dilation for b in m.features[1:18]]
    # blocks 1..17: stage (t,c,n,s) = 16x1, 24x2, 32x3, 64x4, 96x3, 160x3, 320x1
    assert strides == [1, 2, 1, 2, 1, 1] + [1] * 11
    assert dils == [1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 4, 4, 4]
    assert m.features[15].input_padding == (4, 4, 4, 4)
    m16 = tr.mobilenet_v2(output_stride=16)
    assert [b.dilation for b in m16.features[14:18]] == [1, 2, 2, 2]
    assert m16.features[14].stride == 1


@pytest.mark.parametrize("backbone", small_first(["resnet50", "resnet101", "mobilenetv2"]))
@pytest.mark.parametrize("output_stride", [16, 8])
def test_deeplabv3plus_forward_shape(backbone, output_stride):
    torch.manual_seed(0)
    m = tr.deeplabv3plus(backbone, num_classes=21, output_stride=output_stride).eval()
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        feats = m.backbone(x)
        y = m(x)
    assert y.shape == (1, 21, 65, 65)
    low, out = feats["low_level"], feats["out"]
    if backbone.startswith("resnet"):
        assert low.shape == (1, 256, 17, 17)
        assert out.shape[1] == 2048
        assert out.shape[-1] == (5 if output_stride == 16 else 9)
    else:
        assert low.shape == (1, 24, 16, 16)  # VainF stem without padding: 65 -> 32 -> 16
        assert out.shape[1] == 320
        assert out.shape[-1] == (4 if output_stride == 16 else 8)
    rates = [m.classifier.aspp.convs[i][0].dilation[0] for i in (1, 2, 3)]
    assert rates == ([6, 12, 18] if output_stride == 16 else [12, 24, 36])


def test_deeplabv3plus_vainf_keys():
    keys = set(tr.deeplabv3plus("mobilenetv2").state_dict())
    for k in ["backbone.low_level_features.0.0.weight",
              "backbone.low_level_features.3.conv.3.running_mean",
              "backbone.high_level_features.4.conv.0.0.weight",
              "backbone.high_level_features.17.conv.2.weight",
              "classifier.project.0.weight", "classifier.project.1.running_var",
              "classifier.aspp.convs.0.0.weight", "classifier.aspp.convs.3.1.bias",
              "classifier.aspp.convs.4.1.weight", "classifier.aspp.convs.4.2.running_mean",
              "classifier.aspp.project.0.weight", "classifier.classifier.0.weight",
              "classifier.classifier.1.weight", "classifier.classifier.3.weight",
              "classifier.classifier.3.bias"]:
        assert k in keys, k
    assert not any(k.startswith(("backbone.features", "backbone.classifier",
                                 "backbone.high_level_features.18")) for k in keys)
    rkeys = set(tr.deeplabv3plus("resnet101", decoder_convs=2).state_dict())
    assert "backbone.layer3.22.conv3.weight" in rkeys and "backbone.conv1.weight" in rkeys
    assert not any(k.startswith("backbone.fc") for k in rkeys)
    assert {"classifier.classifier.3.weight", "classifier.classifier.4.running_var",
            "classifier.classifier.6.weight", "classifier.classifier.6.bias"} <= rkeys


def test_deeplabv3plus_param_counts():
    m1 = tr.deeplabv3plus("mobilenetv2", decoder_convs=1)
    m2 = tr.deeplabv3plus("mobilenetv2", decoder_convs=2)
    assert tr.count_params(m1) == 5_225_717
    assert tr.count_params(m2) - tr.count_params(m1) == 256 * 256 * 9 + 2 * 256
    assert tr.count_params(tr.deeplabv3plus("resnet50")) == 39_761_845


def test_count_macs():
    # torchvision reports 4.09 / 0.30 GFLOPS (multiply-adds) at 224 for these two
    assert tr.count_macs(tr.resnet(50), (1, 3, 224, 224)) == 4_089_184_256
    mb = tr.mobilenet_v2()
    assert tr.count_macs(mb, (1, 3, 224, 224)) == 300_774_272
    assert tr.count_macs(mb, (1, 3, 32, 32), device=None) == tr.count_macs(mb, (1, 3, 32, 32))
    assert tr.count_macs(tr.deeplabv3plus("mobilenetv2"), (1, 3, 513, 513)) == 16_817_423_360


@pytest.mark.slow
def test_randomize_bn_deterministic_and_stable():
    def build(seed):
        torch.manual_seed(0)  # identical conv weights
        return tr.randomize_bn(tr.deeplabv3plus("mobilenetv2"), seed=seed,
                               input_shape=(2, 3, 49, 49))

    a, b, c = build(3), build(3), build(4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["classifier.project.1.running_var"],
                           sc["classifier.project.1.running_var"])
    bn = a.classifier.project[1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert not torch.allclose(bn.weight, torch.ones_like(bn.weight))
    assert not torch.allclose(bn.bias, torch.zeros_like(bn.bias))
    assert a.training  # mode restored
    a.eval()
    with torch.no_grad():
        y = a(torch.randn(1, 3, 65, 65))
    assert torch.isfinite(y).all() and y.abs().max() < 1e3


def test_export_state_dict_npz(tmp_path):
    m = tr.mobilenet_v2()
    path = tmp_path / "mbv2.npz"
    keys = tr.export_state_dict_npz(m, path)
    data = np.load(path)
    assert sorted(data.files) == sorted(keys)
    assert not any(k.endswith("num_batches_tracked") for k in keys)
    sd = m.state_dict()
    assert np.array_equal(data["features.0.0.weight"], sd["features.0.0.weight"].numpy())
    assert data["classifier.1.weight"].shape == (1000, 1280)
