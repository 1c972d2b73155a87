"""Plain-PyTorch reference models for checking archspec's specs (no torchvision needed).

Models (module / parameter names follow the widely used implementations, so their
``state_dict`` keys are interchangeable with the published checkpoints):

* :func:`resnet` -- torchvision ``torchvision/models/resnet.py`` layout (ResNet v1.5: stride on
  the 3x3 conv of the Bottleneck), identical to VainF/DeepLabV3Plus-Pytorch
  ``network/backbone/resnet.py``.  Keys: ``conv1``, ``bn1``,
  ``layer{1..4}.{i}.conv1/bn1/conv2/bn2/conv3/bn3``, ``layer{1..4}.0.downsample.0`` (1x1 conv),
  ``layer{1..4}.0.downsample.1`` (BN), ``fc``.  Dilation as torchvision's ``_make_layer``: when a
  stage is dilated its stride becomes 1 and ``self.dilation *= stride``; the *first* block of the
  stage uses the previous dilation in ``conv2``, later blocks the new one (padding = dilation).
* :func:`mobilenet_v2` -- torchvision ``torchvision/models/mobilenetv2.py`` layout:
  ``features.0.{0 conv,1 bn}`` (stem 3x3 s2 + ReLU6), ``features.{1..17}.conv.*`` inverted
  residuals (t=1 block: ``conv.0.{0,1}`` dw, ``conv.1`` pw-linear conv, ``conv.2`` BN; t=6 blocks:
  ``conv.0.{0,1}`` pw expand, ``conv.1.{0,1}`` dw, ``conv.2`` pw-linear conv, ``conv.3`` BN),
  ``features.18.{0,1}`` (1x1 320->1280 + ReLU6), ``classifier.1`` (Linear; ``classifier.0`` is
  Dropout(0.2)).  Two padding styles (same parameters, different forward):

  - ``output_stride=None`` (default) -> torchvision exactly: padding (k-1)//2 inside each conv.
  - ``output_stride=8|16|32`` -> VainF ``network/backbone/mobilenetv2.py`` exactly:
    every ``ConvBNReLU`` has padding 0 (*including the stem*: 513x513 -> 256x256, not 257), and
    each ``InvertedResidual`` pads its *block input* with ``F.pad(x, fixed_padding(3, dilation))``
    before the whole ``self.conv`` chain -- i.e. *before the 1x1 expansion conv*, so the border of
    the expanded tensor is ``ReLU6(BN(0))``, not zero.  The residual add uses the unpadded input.
    Stride -> dilation once ``current_stride == output_stride`` (``dilation *= s``); the first block
    of such a stage uses ``previous_dilation``, later blocks ``dilation``.  Channel counts use
    ``int(c * width_mult)`` (VainF overrides ``_make_divisible`` there; same at width 1.0).
* :func:`deeplabv3plus` -- VainF layout (``network/modeling.py`` ``_segm_resnet`` /
  ``_segm_mobilenet``, ``network/_deeplab.py`` ``DeepLabHeadV3Plus``/``ASPP``,
  ``network/utils.py`` ``_SimpleSegmentationModel``/``IntermediateLayerGetter``):

  - ``backbone.*``: an ``IntermediateLayerGetter`` (a ``ModuleDict``).  ResNet: ``backbone.conv1``,
    ``backbone.bn1``, (``relu``, ``maxpool``), ``backbone.layer1`` .. ``backbone.layer4``
    (``avgpool``/``fc`` dropped); low-level = ``layer1`` (256 ch), out = ``layer4`` (2048 ch).
    MobileNetV2 (VainF padding style): ``backbone.low_level_features`` = ``features[:4]`` (keys
    ``.0`` .. ``.3``; 24 ch) and ``backbone.high_level_features`` = ``features[4:-1]``; slicing an
    ``nn.Sequential`` KEEPS the original keys, so these are ``.4`` .. ``.17`` (320 ch; the 1x1
    320->1280 ``features.18`` and the classifier are dropped).
  - ``classifier.project.{0 conv1x1 low->48, 1 BN, 2 ReLU}``
  - ``classifier.aspp.convs.0.{0 conv1x1, 1 BN, 2 ReLU}``,
    ``classifier.aspp.convs.{1,2,3}.{0 conv3x3 dil r, 1 BN, 2 ReLU}``,
    ``classifier.aspp.convs.4.{0 AdaptiveAvgPool2d(1), 1 conv1x1, 2 BN, 3 ReLU}`` (+ bilinear
    upsample back, align_corners=False),
    ``classifier.aspp.project.{0 conv1x1 1280->256, 1 BN, 2 ReLU, 3 Dropout(0.1)}``
  - ``classifier.classifier``: decoder_convs=1 (VainF):
    ``{0 conv3x3 304->256, 1 BN, 2 ReLU, 3 conv1x1 256->num_classes (bias)}``;
    decoder_convs=2 (paper / jfzhang95 ``modeling/decoder.py`` ``last_conv``):
    ``{0 conv3x3 304->256, 1 BN, 2 ReLU, 3 conv3x3 256->256, 4 BN, 5 ReLU,
    6 conv1x1 256->num_classes (bias)}`` -- i.e. flat ``nn.Sequential`` with 3 entries per
    conv-BN-ReLU, the bias conv last.  This is the dropout-free jfzhang95 ``last_conv`` (one
    version of its file has Dropout(0.5)/Dropout(0.1) after each ReLU, shifting its indices to
    0..8; dropout is a no-op in eval so it is left out here).
  - Concatenation order is VainF's ``cat([low_level(48), aspp(256)])`` (jfzhang95 uses the
    opposite order ``cat((aspp, low_level))`` and ``align_corners=True``; not reproduced).
  - All resizes bilinear, align_corners=False: ASPP pooling -> feature size; ASPP output ->
    low-level size; logits -> input size.  ``forward`` returns logits at input resolution.
  - Rates 6/12/18 at OS16, 12/24/36 at OS8.  ResNet OS16: replace_stride_with_dilation
    [False, False, True]; OS8: [False, True, True].
* :class:`UNet` -- milesial/Pytorch-UNet ``UNet(bilinear=False)`` layout (``unet/unet_parts.py``):
  ``inc.double_conv.{0,3}`` convs (no bias) and ``{1,4}`` BNs, ``down{1..4}.maxpool_conv.1.double_conv.*``,
  ``up{1..4}.up`` (ConvTranspose2d k=2 s=2, in -> in/2), ``up{1..4}.conv.double_conv.*``,
  ``outc.conv`` (1x1, bias). The upsampled map is padded to the skip's size (diff // 2 first),
  then ``cat([skip, up])``. ``base`` is the first width (64: 31,037,698 parameters at 2 classes).

Measured numbers (torch 2.13.0 CPU, this file).  Parameters: ``count_params`` (all
``nn.Parameter``s; BN running statistics are buffers and not counted).  MACs:
``count_macs`` = conv + linear multiply-adds for ONE image (batch 1) -- 224x224 for the
classifiers, 513x513 for DeepLabV3+ (VainF MobileNet stem has no padding, so 513 -> 256 -> ...
-> 32 at OS16 with a 128x128 low-level map; ResNet gives 257 -> 129 (low-level) -> ... -> 33).
"+elementwise" (``count_macs(..., elementwise=True)``) adds, ptflops-style, 2 ops/element for each affine BN, 1 per ReLU/ReLU6 output
element and 1 per pooling input element.  DeepLabV3+: num_classes=21.  Parameter counts do not
depend on the output stride.

==========================================  ===========  ==============  =============  ===========
model                                        parameters   MACs OS16       +elementwise   MACs OS8
==========================================  ===========  ==============  =============  ===========
resnet50 (torchvision, 1000 classes)         25,557,032   4.089 G @224    --             --
resnet101 (torchvision, 1000 classes)        44,549,160   7.801 G @224    --             --
mobilenet_v2 (torchvision, 1000 classes)      3,504,872   0.301 G @224    --             --
deeplabv3plus resnet50    decoder_convs=1    39,761,845   62.380 G        62.601 G       178.088 G
deeplabv3plus resnet50    decoder_convs=2    40,352,181   72.195 G        --             187.903 G
deeplabv3plus resnet101   decoder_convs=1    58,753,973   83.005 G        83.312 G       258.109 G
deeplabv3plus resnet101   decoder_convs=2    59,344,309   92.820 G        --             267.924 G
deeplabv3plus mobilenetv2 decoder_convs=1     5,225,717   16.817 G        16.958 G       30.641 G
deeplabv3plus mobilenetv2 decoder_convs=2     5,816,053   26.481 G        --             40.305 G
==========================================  ===========  ==============  =============  ===========

Comparison: VainF README "FLOPs" at 513, OS16 (decoder_convs=1): MobileNet 17.0G, ResNet-50 62.7G,
ResNet-101 83.4G.  Conv+linear MACs are 1.1% / 0.5% / 0.5% below those; with the elementwise ops
added 16.96 / 62.60 / 83.31 G, i.e. within 0.2% (their counter is not stated; ptflops/thop
conventions differ in such elementwise terms).  torchvision's own "GFLOPS" (=MACs) for
resnet50 / resnet101 / mobilenet_v2 at 224 are 4.09 / 7.80 / 0.30: match.  The paper's ResNet-101
OS16 figure, 101.28 B multiply-adds, is for its own (TF) network and is not reproduced here
(decoder_convs=2 gives 92.82 G).  The decoder_convs=2 delta is one 3x3 256->256 conv + BN:
589,824 + 512 = 590,336 parameters and 589,824 * 129^2 = 9.815 G (ResNet) / * 128^2 = 9.664 G
(MobileNet) MACs.  Regenerate the table with ``python tests/oracles/torch_ref.py`` (~1 min).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Bottleneck",
    "ResNet",
    "resnet",
    "MobileNetV2",
    "InvertedResidual",
    "mobilenet_v2",
    "IntermediateLayerGetter",
    "ASPP",
    "DeepLabHeadV3Plus",
    "DeepLabV3",
    "deeplabv3plus",
    "count_params",
    "count_macs",
    "randomize_bn",
    "export_state_dict_npz",
]


# --------------------------------------------------------------------------------------------
# ResNet -- torchvision/models/resnet.py == VainF network/backbone/resnet.py
# --------------------------------------------------------------------------------------------

def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding = dilation (torchvision ``conv3x3``)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class Bottleneck(nn.Module):
    """torchvision Bottleneck (v1.5: the stride sits on ``conv2``, the 3x3)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu(out)


_RESNET_LAYERS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}


class ResNet(nn.Module):
    """torchvision ResNet (Bottleneck only)."""

    def __init__(self, layers: Sequence[int], num_classes: int = 1000,
                 replace_stride_with_dilation: Sequence[bool] = (False, False, False),
                 groups: int = 1, width_per_group: int = 64):
        super().__init__()
        block = Bottleneck
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation must have 3 elements")
        self.inplanes = 64
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet(depth: int = 50, num_classes: int = 1000,
           replace_stride_with_dilation: Sequence[bool] = (False, False, False)) -> ResNet:
    """torchvision ``resnet50`` / ``resnet101`` (/ ``resnet152``)."""
    if depth not in _RESNET_LAYERS:
        raise ValueError(f"depth must be one of {sorted(_RESNET_LAYERS)}, got {depth}")
    return ResNet(_RESNET_LAYERS[depth], num_classes=num_classes,
                  replace_stride_with_dilation=list(replace_stride_with_dilation))


# --------------------------------------------------------------------------------------------
# MobileNetV2 -- torchvision/models/mobilenetv2.py, and VainF network/backbone/mobilenetv2.py
# --------------------------------------------------------------------------------------------

def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """From the TF slim repo, as in torchvision / VainF."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # make sure that rounding down does not go down by more than 10%
        new_v += divisor
    return new_v


def fixed_padding(kernel_size: int, dilation: int):
    """VainF ``fixed_padding``: (left, right, top, bottom) for ``F.pad``."""
    kernel_size_effective = kernel_size + (kernel_size - 1) * (dilation - 1)
    pad_total = kernel_size_effective - 1
    pad_beg = pad_total // 2
    pad_end = pad_total - pad_beg
    return (pad_beg, pad_end, pad_beg, pad_end)


class ConvBNReLU(nn.Sequential):
    """Conv(bias=False) -> BN -> ReLU6; ``.0``/``.1``/``.2`` like torchvision's
    ``Conv2dNormActivation``.  ``vainf_padding=True`` -> padding 0 (VainF ``ConvBNReLU``),
    else torchvision's padding (k-1)//2*dilation."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1,
                 dilation: int = 1, groups: int = 1, vainf_padding: bool = False):
        padding = 0 if vainf_padding else (kernel_size - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, dilation=dilation,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, dilation: int, expand_ratio: int,
                 vainf_padding: bool = False):
        super().__init__()
        assert stride in (1, 2)
        self.stride = stride
        self.dilation = dilation
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: List[nn.Module] = []
        if expand_ratio != 1:  # pw
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1,
                                     vainf_padding=vainf_padding))
        layers.extend([
            # dw
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, dilation=dilation,
                       groups=hidden_dim, vainf_padding=vainf_padding),
            # pw-linear
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)
        self.vainf_padding = vainf_padding
        # VainF: pad the block input (before the pw expansion) -- see module docstring.
        self.input_padding = fixed_padding(3, dilation) if vainf_padding else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = F.pad(x, self.input_padding) if self.input_padding is not None else x
        if self.use_res_connect:
            return x + self.conv(x_in)
        return self.conv(x_in)


_MBV2_SETTING = [
    # t, c, n, s
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 output_stride: Optional[int] = None, vainf_padding: Optional[bool] = None,
                 round_nearest: int = 8):
        super().__init__()
        if vainf_padding is None:
            vainf_padding = output_stride is not None
        self.output_stride = output_stride
        self.vainf_padding = vainf_padding
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: List[nn.Module] = [ConvBNReLU(3, input_channel, stride=2,
                                                vainf_padding=vainf_padding)]
        current_stride = 2
        dilation = 1
        for t, c, n, s in _MBV2_SETTING:
            previous_dilation = dilation
            if output_stride is not None and current_stride == output_stride:
                stride = 1
                dilation *= s
            else:
                stride = s
                current_stride *= s
            if vainf_padding:
                output_channel = int(c * width_mult)  # VainF overrides _make_divisible here
            else:
                output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                if i == 0:
                    features.append(InvertedResidual(input_channel, output_channel, stride,
                                                     previous_dilation, t, vainf_padding))
                else:
                    features.append(InvertedResidual(input_channel, output_channel, 1,
                                                     dilation, t, vainf_padding))
                input_channel = output_channel
        features.append(ConvBNReLU(input_channel, self.last_channel, kernel_size=1,
                                   vainf_padding=vainf_padding))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0,
                 output_stride: Optional[int] = None,
                 vainf_padding: Optional[bool] = None) -> MobileNetV2:
    """torchvision ``mobilenet_v2`` (``output_stride=None``) or VainF's dilated variant.

    ``vainf_padding`` defaults to ``output_stride is not None``; pass it explicitly to get the
    VainF padding at stride 32 (``output_stride=32`` also does that) or torchvision padding with
    dilation (padding = dilation inside the conv; not what any checkpoint uses).
    """
    return MobileNetV2(num_classes=num_classes, width_mult=width_mult,
                       output_stride=output_stride, vainf_padding=vainf_padding)


# --------------------------------------------------------------------------------------------
# DeepLabV3+ -- VainF network/_deeplab.py, network/modeling.py, network/utils.py
# --------------------------------------------------------------------------------------------

class IntermediateLayerGetter(nn.ModuleDict):
    """VainF ``network/utils.py`` (== torchvision ``_utils``): keeps the model's direct children
    up to the last requested one, in registration order; returns a dict of named outputs."""

    def __init__(self, model: nn.Module, return_layers: Dict[str, str]):
        names = [name for name, _ in model.named_children()]
        if not set(return_layers).issubset(names):
            raise ValueError("return_layers are not present in model")
        orig_return_layers = dict(return_layers)
        remaining = dict(return_layers)
        layers = OrderedDict()
        for name, module in model.named_children():  # skips children set to None
            layers[name] = module
            remaining.pop(name, None)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = orig_return_layers

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class ASPPConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, dilation: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                      bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class ASPPPooling(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = super().forward(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    def __init__(self, in_channels: int, atrous_rates: Sequence[int], out_channels: int = 256):
        super().__init__()
        modules: List[nn.Module] = [nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )]
        rate1, rate2, rate3 = tuple(atrous_rates)
        modules.append(ASPPConv(in_channels, out_channels, rate1))
        modules.append(ASPPConv(in_channels, out_channels, rate2))
        modules.append(ASPPConv(in_channels, out_channels, rate3))
        modules.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(modules)
        self.project = nn.Sequential(
            nn.Conv2d(5 * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(0.1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = torch.cat([conv(x) for conv in self.convs], dim=1)
        return self.project(res)


class DeepLabHeadV3Plus(nn.Module):
    def __init__(self, in_channels: int, low_level_in: int, num_classes: int,
                 aspp_dilate: Sequence[int] = (12, 24, 36), decoder_convs: int = 1,
                 aspp_channels: int = 256, low_level_channels: int = 48):
        super().__init__()
        if decoder_convs < 1:
            raise ValueError("decoder_convs must be >= 1")
        self.project = nn.Sequential(
            nn.Conv2d(low_level_in, low_level_channels, 1, bias=False),
            nn.BatchNorm2d(low_level_channels),
            nn.ReLU(inplace=True),
        )
        self.aspp = ASPP(in_channels, aspp_dilate, aspp_channels)
        layers: List[nn.Module] = []
        cin = low_level_channels + aspp_channels  # 304 with the defaults
        for _ in range(decoder_convs):
            layers += [nn.Conv2d(cin, aspp_channels, 3, padding=1, bias=False),
                       nn.BatchNorm2d(aspp_channels),
                       nn.ReLU(inplace=True)]
            cin = aspp_channels
        layers.append(nn.Conv2d(cin, num_classes, 1))
        self.classifier = nn.Sequential(*layers)
        self._init_weight()

    def forward(self, feature: Dict[str, torch.Tensor]) -> torch.Tensor:
        low_level_feature = self.project(feature["low_level"])
        output_feature = self.aspp(feature["out"])
        output_feature = F.interpolate(output_feature, size=low_level_feature.shape[2:],
                                       mode="bilinear", align_corners=False)
        return self.classifier(torch.cat([low_level_feature, output_feature], dim=1))

    def _init_weight(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


class DeepLabV3(nn.Module):
    """VainF ``_SimpleSegmentationModel``: ``backbone`` + ``classifier``, logits upsampled
    bilinearly (align_corners=False) to the input size."""

    def __init__(self, backbone: nn.Module, classifier: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        x = self.classifier(features)
        return F.interpolate(x, size=input_shape, mode="bilinear", align_corners=False)


def deeplabv3plus(backbone: str = "resnet50", num_classes: int = 21, output_stride: int = 16,
                  decoder_convs: int = 1, aspp_channels: int = 256,
                  low_level_channels: int = 48) -> DeepLabV3:
    """DeepLabV3+ in VainF's layout (``network/modeling.py``: ``_segm_resnet``,
    ``_segm_mobilenet``).  ``decoder_convs=1`` is VainF, ``2`` the paper / jfzhang95."""
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")
    aspp_dilate = [12, 24, 36] if output_stride == 8 else [6, 12, 18]
    if backbone.startswith("resnet"):
        depth = int(backbone[len("resnet"):])
        rswd = [False, True, True] if output_stride == 8 else [False, False, True]
        net = resnet(depth, replace_stride_with_dilation=rswd)
        inplanes, low_level_planes = 2048, 256
        body = IntermediateLayerGetter(net, {"layer4": "out", "layer1": "low_level"})
    elif backbone in ("mobilenetv2", "mobilenet_v2", "mobilenet"):
        net = mobilenet_v2(output_stride=output_stride)
        # rename layers exactly as VainF _segm_mobilenet does
        net.low_level_features = net.features[:4]
        net.high_level_features = net.features[4:-1]
        net.features = None
        net.classifier = None
        inplanes, low_level_planes = 320, 24
        body = IntermediateLayerGetter(net, {"high_level_features": "out",
                                             "low_level_features": "low_level"})
    else:
        raise ValueError(f"unknown backbone {backbone!r}")
    head = DeepLabHeadV3Plus(inplanes, low_level_planes, num_classes, aspp_dilate,
                             decoder_convs=decoder_convs, aspp_channels=aspp_channels,
                             low_level_channels=low_level_channels)
    return DeepLabV3(body, head)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: Sequence[int] = (1, 3, 513, 513),
               elementwise: bool = False, device: str = "meta") -> int:
    """Multiply-adds of all ``nn.Conv2d`` and ``nn.Linear`` layers for one forward pass of a
    zero input of ``input_shape`` (whole batch).  By default a deep copy of the model is run on
    the ``meta`` device (shapes only, no arithmetic: fast); ``device=None`` runs ``model``
    itself on its own device.  Conv MACs = out.numel() * (in_channels /
    groups) * kh * kw; bias adds, resizes, concats and residual adds are not counted.
    ``elementwise=True`` adds (ptflops-style) 2 per output element of an affine BN (1 if not
    affine), 1 per ReLU/ReLU6 output element and 1 per input element of a pooling layer."""
    total = [0]

    def conv_hook(m: nn.Conv2d, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, inp, out):
        total[0] += out.numel() * m.in_features

    def bn_hook(m, inp, out):
        total[0] += out.numel() * (2 if m.affine else 1)

    def act_hook(m, inp, out):
        total[0] += out.numel()

    def pool_hook(m, inp, out):
        total[0] += inp[0].numel()

    if device is not None:
        model = copy.deepcopy(model).to(device)
    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
        elif elementwise and isinstance(m, nn.modules.batchnorm._BatchNorm):
            handles.append(m.register_forward_hook(bn_hook))
        elif elementwise and isinstance(m, (nn.ReLU, nn.ReLU6)):
            handles.append(m.register_forward_hook(act_hook))
        elif elementwise and isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
            handles.append(m.register_forward_hook(pool_hook))
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(*input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total[0])


@torch.no_grad()
def randomize_bn(model: nn.Module, seed: int = 0, calibrate: bool = True,
                 input_shape: Sequence[int] = (2, 3, 97, 97)) -> nn.Module:
    """Give every BatchNorm non-trivial, deterministic affine params and running statistics.

    Draws (one ``torch.Generator(seed)``, BN modules in ``named_modules`` order, per channel):
    weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.2), mean shift ``a`` ~ U(-0.2, 0.2), variance factor
    ``f`` ~ U(0.5, 2.0).

    * ``calibrate=False``: running_mean = a, running_var = f.  With untrained conv weights this
      makes deep nets blow up (ResNet-101 DeepLabV3+ logits std ~1e4-1e5).
    * ``calibrate=True`` (default): one eval-mode forward of a seeded N(0, 1) input of
      ``input_shape`` with a forward pre-hook on every BN that, just before that BN runs, sets
      running_mean = mu + a * sigma and running_var = max(var + 0.1 mu^2, floor) * f from the per-channel
      statistics of the BN's actual input (floor = 1e-2 * mean channel var + 1e-5, so dead
      channels are not amplified).  Every later layer thus sees calibrated inputs, activations
      stay O(1) at any depth, and the statistics are still *not* the batch statistics, so a
      wrong eps/mean/var mapping or a bad BN fold shows up.  The model must accept
      ``torch.randn(*input_shape)``.  Training mode is restored afterwards.
    """
    g = torch.Generator().manual_seed(int(seed))
    draws = {}
    for _, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            w = torch.rand(n, generator=g) + 0.5
            b = torch.rand(n, generator=g) * 0.4 - 0.2
            a = torch.rand(n, generator=g) * 0.4 - 0.2
            f = torch.rand(n, generator=g) * 1.5 + 0.5
            if m.weight is not None:
                m.weight.copy_(w)
                m.bias.copy_(b)
            if m.running_mean is not None:
                m.running_mean.copy_(a)
                m.running_var.copy_(f)
            draws[m] = (a, f)
    if not calibrate or not draws:
        return model

    def pre_hook(m, args):
        if m.running_mean is None:
            return
        x = args[0].detach().double()
        dims = [0] + list(range(2, x.dim()))
        mu = x.mean(dims)
        # + 0.1 * mu^2: keeps 1x1-spatial BNs (ASPP image pooling), whose calibration variance
        # comes from only input_shape[0] samples, from turning small input changes into huge
        # normalized values.
        var = x.var(dims, unbiased=False) + 0.1 * mu * mu
        var = torch.clamp(var, min=float(1e-2 * var.mean() + 1e-5))
        a, f = draws[m]
        m.running_mean.copy_((mu + a.double() * var.sqrt()).to(m.running_mean.dtype))
        m.running_var.copy_((var * f.double()).to(m.running_var.dtype))

    handles = [m.register_forward_pre_hook(pre_hook) for m in draws]
    was_training = model.training
    model.eval()
    try:
        model(torch.randn(*input_shape, generator=g))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return model


def export_state_dict_npz(model: nn.Module, path, include_num_batches_tracked: bool = False
                          ) -> List[str]:
    """Save ``model.state_dict()`` to an ``.npz`` (key = PyTorch state-dict name, value = numpy
    array, float32 for params/running stats).  ``num_batches_tracked`` counters are skipped by
    default (MindSpore BN has no such parameter).  Returns the saved keys, in order."""
    arrays = OrderedDict()
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked") and not include_num_batches_tracked:
            continue
        arrays[k] = v.detach().cpu().numpy()
    np.savez(path, **arrays)
    return list(arrays)


# ----------------------------------------------------------------------------- U-Net
# milesial/Pytorch-UNet (unet/unet_parts.py, unet/unet_model.py), UNet(bilinear=False): the same
# module names, so its checkpoints' state_dict keys apply (specs/maps/unet.yaml maps them).
# ``bn=False`` gives the paper's conv (with bias) + ReLU instead of conv + BN + ReLU.

class UNetDoubleConv(nn.Module):
    """(conv 3x3 padding 1 => [BN] => ReLU) * 2; keys double_conv.{0,3} conv, {1,4} BN."""

    def __init__(self, in_channels: int, out_channels: int, bn: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers += [nn.Conv2d(cin, out_channels, kernel_size=3, padding=1, bias=not bn)]
            layers += [nn.BatchNorm2d(out_channels) if bn else nn.Identity(), nn.ReLU(inplace=True)]
        self.double_conv = nn.Sequential(*layers)

    def forward(self, x):
        return self.double_conv(x)


class UNetDown(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bn: bool = True) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), UNetDoubleConv(in_channels, out_channels, bn))

    def forward(self, x):
        return self.maxpool_conv(x)


class UNetUp(nn.Module):
    """ConvTranspose2d(in, in // 2, 2, stride 2), padded to the skip's size (diff // 2 before),
    cat([skip, up]), DoubleConv."""

    def __init__(self, in_channels: int, out_channels: int, bn: bool = True) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = UNetDoubleConv(in_channels, out_channels, bn)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    def __init__(self, n_channels: int = 3, n_classes: int = 2, base: int = 64, bn: bool = True) -> None:
        super().__init__()
        self.inc = UNetDoubleConv(n_channels, base, bn)
        self.down1 = UNetDown(base, base * 2, bn)
        self.down2 = UNetDown(base * 2, base * 4, bn)
        self.down3 = UNetDown(base * 4, base * 8, bn)
        self.down4 = UNetDown(base * 8, base * 16, bn)
        self.up1 = UNetUp(base * 16, base * 8, bn)
        self.up2 = UNetUp(base * 8, base * 4, bn)
        self.up3 = UNetUp(base * 4, base * 2, bn)
        self.up4 = UNetUp(base * 2, base, bn)
        self.outc = nn.Sequential()
        self.outc.conv = nn.Conv2d(base, n_classes, kernel_size=1)  # milesial's OutConv: key outc.conv

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


def _summary_table(input_hw: int = 513) -> str:  # pragma: no cover - documentation helper
    rows = []
    for name, ctor in [("resnet50", lambda: resnet(50)), ("resnet101", lambda: resnet(101)),
                       ("mobilenet_v2", lambda: mobilenet_v2())]:
        m = ctor()
        rows.append((name, count_params(m), count_macs(m, (1, 3, 224, 224)), "@224"))
    for os_ in (16, 8):
        for bb in ("resnet50", "resnet101", "mobilenetv2"):
            for dc in (1, 2):
                m = deeplabv3plus(bb, 21, os_, decoder_convs=dc)
                shape = (1, 3, input_hw, input_hw)
                extra = ""
                if os_ == 16 and dc == 1:
                    extra = f"  (+elementwise {count_macs(m, shape, True) / 1e9:.3f} G)"
                rows.append((f"deeplabv3plus {bb} OS{os_} dec{dc}", count_params(m),
                             count_macs(m, shape), f"@{input_hw}{extra}"))
    return "\n".join(f"{n:<42s} {p:>12,d}  {mac / 1e9:8.3f} GMACs {r}" for n, p, mac, r in rows)


# --------------------------------------------------------------------------------------------
# Multi-grid ResNet stage -- DeepLabV3 (Chen et al. 2017, arXiv 1706.05587, sec. 4.1 "Multi-grid
# Method"), as jfzhang95/pytorch-deeplab-xception modeling/backbone/resnet.py ``_make_MG_unit``
# --------------------------------------------------------------------------------------------

def multigrid_layer(inplanes: int, planes: int, grid: Sequence[int] = (1, 2, 4), dilation: int = 2,
                    stride: int = 1) -> nn.Sequential:
    """A ResNet stage whose i-th Bottleneck has rate ``dilation * grid[i]`` (unit rates (1, 2, 4) on
    the last stage at output stride 16: rates 2, 4, 8). The first block carries the stride and the
    projection shortcut (``downsample.0`` conv 1x1, ``downsample.1`` BN), as in ``_make_MG_unit``."""
    downsample = None
    if stride != 1 or inplanes != planes * Bottleneck.expansion:
        downsample = nn.Sequential(conv1x1(inplanes, planes * Bottleneck.expansion, stride),
                                   nn.BatchNorm2d(planes * Bottleneck.expansion))
    layers = [Bottleneck(inplanes, planes, stride, downsample, dilation=grid[0] * dilation)]
    for unit in grid[1:]:
        layers.append(Bottleneck(planes * Bottleneck.expansion, planes, dilation=unit * dilation))
    return nn.Sequential(*layers)


if __name__ == "__main__":  # pragma: no cover
    print(_summary_table())
