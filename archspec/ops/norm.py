"""batchnorm: 2-D batch normalisation over the channels of an NCHW tensor, lowered to nn.BatchNorm2d."""
from __future__ import annotations

from pydantic import PositiveFloat, model_validator

from archspec.ops.common import need_4d
from archspec.ops.registry import OpArgs, OpDef, register


class BatchNormArgs(OpArgs):
    eps: PositiveFloat = 1e-5
    momentum: float = 0.1  # PyTorch convention (weight of the new batch); MindSpore's is 1 - this

    @model_validator(mode="after")
    def _check(self) -> "BatchNormArgs":
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("momentum must be within [0, 1] (PyTorch convention: weight of the new batch)")
        return self


def infer(a: BatchNormArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "batchnorm")
    return tuple(x)


def cost(a: BatchNormArgs, in_shapes, out_shape):
    # gamma and beta are trainable; running mean/variance are buffers (not counted, as in PyTorch).
    # 0 MACs: inference folds BN into the preceding conv.
    return 2 * in_shapes[0][1], 0


def lower(node):
    from mindspore import nn

    a = node.args
    return nn.BatchNorm2d(node.in_shapes[0][1], eps=a.eps, momentum=1.0 - a.momentum)


register(OpDef(
    name="batchnorm", args=BatchNormArgs, infer=infer, cost=cost, lower=lower,
    doc="batch normalisation over channels (PyTorch momentum convention); lowered to nn.BatchNorm2d",
    examples=[{"op": "batchnorm"}, {"op": "batchnorm", "eps": 1e-3, "momentum": 0.01}],
))
