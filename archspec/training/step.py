"""The compiled training step: SpecNet + loss + optimizer in one `nn.TrainOneStepCell`-style Cell.

In GRAPH mode (archspec's default) MindSpore compiles forward, backward and the optimizer update
into one graph on the first call (MindSpore's `TrainOneStepCell` pattern; under msrun its
`grad_reducer` averages gradients across ranks). The step returns the loss averaged over ranks,
so every rank sees the same number (and stops together on a NaN).

Optimizers: `sgd` is `nn.Momentum` (PyTorch's SGD with momentum and dampening 0: v = m*v + g,
p -= lr*v, L2 weight decay added to the gradient); `adamw` is
`mindspore.experimental.optim.AdamW` (PyTorch's AdamW: bias-corrected moments, decoupled weight
decay). The learning rate is a Parameter the loop sets before each step from the schedule
(schedule.py), so a resumed run needs no optimizer-side schedule state.

Dropout: a spec's `dropout` nodes become `MaskDropout` cells whose masks the loop draws on the host
from (seed, step, node) for the global batch, so a resumed run draws the masks an uninterrupted one would
(MindSpore's CPU dropout kernel keeps its random state inside the kernel, which a checkpoint
cannot hold).

`mixed precision`: O0 runs float32; O2 (Ascend) casts the net to float16 except BatchNorm
(`mindspore.amp.auto_mixed_precision`) and scales the loss dynamically
(`nn.TrainOneStepWithLossScaleCell` + `nn.DynamicLossScaleUpdateCell`; overflowing steps are
skipped).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore import dtype as mstype

from archspec.graph.ir import Graph
from archspec.training.recipe import Recipe


class MaskDropout(nn.Cell):
    """Dropout whose mask (0 or 1 / (1 - p) per element) is a Parameter the host fills each step."""

    def __init__(self, shape: tuple[int, ...], p: float, name: str) -> None:
        super().__init__()
        self.p = p
        self.mask = Parameter(Tensor(np.ones(shape, np.float32)), name=name, requires_grad=False)

    def construct(self, x):
        if self.training:
            return x * self.mask
        return x


class LossNet(nn.Cell):
    def __init__(self, net: nn.Cell, loss: nn.Cell, cast_fp32: bool = False) -> None:
        super().__init__(auto_prefix=False)  # keep the spec's parameter names
        self.net = net
        self.loss = loss
        self.cast_fp32 = cast_fp32

    def construct(self, x, y):
        logits = self.net(x)
        if self.cast_fp32:
            logits = ops.cast(logits, mstype.float32)
        return self.loss(logits, y)


class TrainStep(nn.TrainOneStepCell):
    """TrainOneStepCell that also returns the loss averaged over ranks."""

    def __init__(self, network: nn.Cell, optimizer: nn.Cell, world: int) -> None:
        super().__init__(network, optimizer)
        self.world = world
        self.allreduce = ops.AllReduce() if world > 1 else None

    def construct(self, x, y):
        loss = self.network(x, y)
        sens = ops.fill(loss.dtype, loss.shape, self.sens)
        grads = self.grad(self.network, self.weights)(x, y, sens)
        grads = self.grad_reducer(grads)
        loss = ops.depend(loss, self.optimizer(grads))
        if self.world > 1:
            loss = self.allreduce(loss) / self.world
        return loss


class ScaledTrainStep(nn.TrainOneStepWithLossScaleCell):
    """O2: float16 with dynamic loss scaling; returns the rank-averaged loss (skipped steps too)."""

    def __init__(self, network: nn.Cell, optimizer: nn.Cell, scale: float, world: int) -> None:
        super().__init__(network, optimizer, nn.DynamicLossScaleUpdateCell(scale, 2, 1000))
        self.world = world
        self.allreduce = ops.AllReduce() if world > 1 else None

    def construct(self, x, y):
        loss, _, _ = super().construct(x, y)
        if self.world > 1:
            loss = self.allreduce(loss) / self.world
        return loss


@dataclass
class Trainer:
    """The built pieces: `step(x, y)` runs one optimizer step and returns the loss."""

    net: nn.Cell  # the SpecNet (parameter names as in the spec)
    step: nn.Cell
    optimizer: nn.Cell
    lr_params: list  # Parameters holding the current learning rate
    dropouts: list[MaskDropout]
    kind: str  # "sgd" or "adamw"

    def set_lr(self, lr: float) -> None:
        value = Tensor(np.float32(lr))
        for p in self.lr_params:
            p.set_data(value)

    def set_dropout_masks(self, seed: int, step: int, rank: int = 0, world: int = 1) -> None:
        """Masks drawn for the global batch and cut like the data (rank r takes samples r, r + W, ...),
        so a sample gets the same mask whatever the number of ranks."""
        for i, d in enumerate(self.dropouts):
            rng = np.random.default_rng([seed, step, i])
            shape = (d.mask.shape[0] * world, *d.mask.shape[1:])
            keep = rng.random(shape, dtype=np.float32)[rank::world] >= d.p
            d.mask.set_data(Tensor(keep.astype(np.float32) / np.float32(1.0 - d.p)))


def _replace_dropouts(net: nn.Cell, graph: Graph) -> list[MaskDropout]:
    out = []
    for i, node in enumerate(graph.nodes):
        if node.op == "dropout" and float(node.args.p) > 0:
            cell = MaskDropout(tuple(graph.shape_of(node.name)), float(node.args.p), f"{node.name}.dropout_mask")
            net.nodes[i] = cell
            cell.mask.name = f"{node.name}.dropout_mask"  # CellList renames on insertion
            out.append(cell)
    return out


def freeze_batchnorm(net: nn.Cell) -> int:
    """BatchNorm layers use their moving statistics and keep gamma/beta fixed; returns how many."""
    n = 0
    for _, cell in net.cells_and_names():
        if isinstance(cell, nn.BatchNorm2d):
            cell.use_batch_statistics = False
            for p in cell.get_parameters():
                p.requires_grad = False
            n += 1
    return n


def _loss(recipe: Recipe, segmentation: bool) -> nn.Cell:
    weight = Tensor(np.asarray(recipe.class_weights, np.float32)) if recipe.class_weights else None
    return nn.CrossEntropyLoss(weight=weight, ignore_index=recipe.ignore_index if segmentation else -100,
                               reduction="mean", label_smoothing=recipe.label_smoothing)


def _optimizer(recipe: Recipe, params: list, lr0: float):
    wd = recipe.weight_decay
    if recipe.decay_bn_and_bias:
        groups = [{"params": params, "weight_decay": wd}]
    else:  # MindCV's filter_bias_and_bn: no decay on 1-D tensors (BatchNorm gamma/beta, biases)
        decay = [p for p in params if len(p.shape) > 1]
        rest = [p for p in params if len(p.shape) <= 1]
        groups = [g for g in ({"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0})
                  if g["params"]]
    if recipe.optimizer == "sgd":
        lr = Parameter(Tensor(np.float32(lr0)), name="learning_rate", requires_grad=False)
        opt = nn.Momentum(groups, learning_rate=lr, momentum=recipe.momentum, use_nesterov=recipe.nesterov)
        return opt, [opt.learning_rate]
    from mindspore.experimental.optim import AdamW

    opt = AdamW(groups, lr=lr0, betas=tuple(recipe.betas), eps=recipe.eps)
    return opt, [g["lr"] for g in opt.param_groups]


def build_trainer(net: nn.Cell, graph: Graph, recipe: Recipe, *, segmentation: bool, world: int = 1,
                  lr0: float | None = None) -> Trainer:
    """Wrap a built SpecNet for training (the net is switched to training mode)."""
    dropouts = _replace_dropouts(net, graph)
    net.set_train(True)
    if recipe.freeze_bn:
        freeze_batchnorm(net)
    body = net
    if recipe.amp_level == "O2":
        from mindspore.amp import auto_mixed_precision

        body = auto_mixed_precision(net, "O2")
    loss_net = LossNet(body, _loss(recipe, segmentation), cast_fp32=recipe.amp_level == "O2")
    params = [p for p in net.trainable_params()]
    opt, lr_params = _optimizer(recipe, params, recipe.lr if lr0 is None else lr0)
    if recipe.amp_level == "O2":
        step = ScaledTrainStep(loss_net, opt, recipe.loss_scale, world)
    else:
        step = TrainStep(loss_net, opt, world)
    step.set_train(True)
    return Trainer(net, step, opt, lr_params, dropouts, recipe.optimizer)
