"""The training loop: runs a checked Plan in this process (one rank of `world`).

Per step: learning rate from the schedule, dropout masks from (seed, step), one compiled
step (forward, backward, update; gradients averaged across ranks under msrun). Every
`log_interval` steps a line in `log.jsonl` and an "advance" event; every `eval_interval` steps an
evaluation (rank 0) and `best.ckpt` when it improves; `last.ckpt` at every evaluation, every
`checkpoint_interval` steps, at the end, and when the run is interrupted (Ctrl-C) after a
completed step. A loss that is NaN or infinite stops the run at that step without writing a
checkpoint, so `last.ckpt` stays the last good state. Only rank 0 writes files.

Call `archspec.runtime.host.setup(...)` first (and, under msrun, `launch.init_distributed`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from archspec.errors import Location, SpecError
from archspec.training import checkpoints, runlog
from archspec.training.plan import Plan, make_task
from archspec.training.report import TrainReport


class TrainingStopped(SpecError):
    """The loss became NaN or infinite; the run stopped (its last good checkpoint is kept)."""


def _preprocess(spec, graph):
    from archspec.errors import ErrorSink
    from archspec.spec.inference import preprocess_settings

    sink = ErrorSink()
    pre = preprocess_settings(spec, graph, sink)
    sink.raise_if_any()
    return pre


@dataclass
class _Built:
    spec: object
    task: object  # data.loader.Task
    split: object  # the training split
    trainer: object  # step.Trainer
    weights_note: str | None


def _build(plan: Plan, world: int, emit) -> _Built:
    """The spec at the training crop, its net (with the starting weights) wrapped for training."""
    from archspec.data.layouts import open_split
    from archspec.graph import spec_graph
    from archspec.lower import build_cell
    from archspec.spec.loader import load
    from archspec.training.step import build_trainer

    recipe = plan.recipe_model
    spec = load(plan.spec, plan.spec_overrides, override_source="--set")
    local_batch = recipe.batch_size // world
    name, shape = next(iter(spec_graph(spec).inputs.items()))
    graph = spec_graph(spec, {name: (local_batch, shape[1], *recipe.crop)})
    task = make_task(plan, _preprocess(spec, graph))
    split = open_split(plan.data, plan.train_split, plan.layout, classes=plan.classes or None)
    emit("stage", name="train", label=f"training {spec.name}", total=plan.total_steps)
    emit("phase", name="train", text=f"building {spec.name} for training ({local_batch}x{shape[1]}x"
                                     f"{recipe.crop[0]}x{recipe.crop[1]} per process)")
    net = build_cell(graph)
    note = None
    if plan.weights and not (Path(plan.out) / checkpoints.LAST).exists():
        from archspec.weights.checkpoint import load_weights

        note = load_weights(net, plan.weights, allow_partial=True,
                            allow_nonfinite=plan.allow_nonfinite).summary()
        emit("phase", name="train", text=note)
    trainer = build_trainer(net, graph, recipe, segmentation=plan.task == "segmentation", world=world)
    return _Built(spec, task, split, trainer, note)


def run(plan: Plan, on_event: Callable | None = None, rank: int = 0, world: int = 1) -> TrainReport:
    import mindspore
    from mindspore import Tensor

    from archspec.data.layouts import open_split
    from archspec.data.loader import steps_per_epoch, train_batches
    from archspec.training.evaluation import Evaluator
    from archspec.training.schedule import learning_rates

    emit = on_event or (lambda kind, **data: None)
    recipe = plan.recipe_model
    main = rank == 0
    out = Path(plan.out)
    total = plan.total_steps
    mindspore.set_seed(recipe.seed)
    b = _build(plan, world, emit)
    trainer = b.trainer
    log = runlog.RunLog(out, enabled=main)
    step = start = 0
    entries: list[dict] = []
    if (out / checkpoints.LAST).exists():
        step = start = checkpoints.restore(trainer, out / checkpoints.LAST)
        entries = log.truncate_after(step) if main else log.entries()
        emit("phase", name="train", text=f"resumed from {out / checkpoints.LAST} at step {step}")
        emit("advance", name="train", n=step)
    lrs = learning_rates(recipe, total)
    evaluator = None
    if plan.val_split and main:
        val = open_split(plan.data, plan.val_split, plan.layout, classes=plan.classes or None)
        size = tuple(plan.eval_size) if plan.eval_size else recipe.crop
        evaluator = Evaluator(b.spec, val, b.task, size, recipe.eval_batch, recipe.data_workers)
    spe = steps_per_epoch(plan.n_train, recipe.batch_size)
    session = _Session(plan, trainer, log, emit, main, _best(entries, plan.task), start)
    loss = None
    try:
        while step < total:
            epoch, first = divmod(step, spe)
            for x, y in train_batches(b.split, b.task, seed=recipe.seed, epoch=epoch, start_batch=first,
                                      local_batch=recipe.batch_size // world, rank=rank, world=world,
                                      workers=recipe.data_workers):
                trainer.set_lr(float(lrs[step]))
                trainer.set_dropout_masks(recipe.seed, step, rank, world)
                loss = float(trainer.step(Tensor(x), Tensor(y)).asnumpy())
                step += 1
                session.after_step(step, epoch, loss, float(lrs[step - 1]), evaluator)
                if step >= total:
                    break
    except KeyboardInterrupt:  # the last completed step is a consistent state: keep it
        if main and step > session.saved_at:
            checkpoints.save(trainer, out / checkpoints.LAST, step)
            session.saved_at = step
        raise
    session.finish(step, evaluator)
    agree = None
    if world > 1:
        from archspec.training.launch import weights_agree

        agree = weights_agree(trainer.net)
    last, best = out / checkpoints.LAST, out / checkpoints.BEST
    report = TrainReport(
        run=str(out), spec=b.spec.name, steps=step, total_steps=total, started_at=start, last_loss=loss,
        last_checkpoint=str(last) if last.exists() else None, best_checkpoint=str(best) if best.exists() else None,
        best=session.best, evaluations=session.evals, log=str(log.path), curves=session.curves,
        weights=b.weights_note, images_per_s=session.images_per_s(recipe.batch_size), world=world,
        ranks_agree=agree, notes=list(plan.notes))
    emit("done", name="train")
    return report


def _best(entries: list[dict], task: str) -> dict | None:
    key = "miou" if task == "segmentation" else "top1"
    best = None
    for step, ev in runlog.evaluations(entries):
        value = ev.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and (best is None or value > best[key]):
            best = {"step": step, **ev}
    return best


class _Session:
    """Bookkeeping of one process's run: logging, evaluations, checkpoints, the end."""

    def __init__(self, plan: Plan, trainer, log: runlog.RunLog, emit, main: bool, best: dict | None,
                 start: int) -> None:
        self.plan, self.trainer, self.log, self.emit, self.main = plan, trainer, log, emit, main
        self.recipe = plan.recipe_model
        self.out = Path(plan.out)
        self.best = best
        self.saved_at = start
        self.evaluated_at = -1
        self.evals: list[dict] = []
        self.curves: str | None = None
        self.window: list[float] = []
        self.window_start = time.perf_counter()
        self.session_start = self.window_start
        self.session_steps = 0
        self.start = start

    def images_per_s(self, global_batch: int) -> float | None:
        seconds = time.perf_counter() - self.session_start
        return self.session_steps * global_batch / seconds if self.session_steps and seconds > 0 else None

    def after_step(self, step: int, epoch: int, loss: float, lr: float, evaluator) -> None:
        r = self.recipe
        self.session_steps += 1
        self.window.append(loss)
        if not math.isfinite(loss):
            self.log.write({"step": step, "epoch": epoch, "loss": loss, "lr": lr, "stopped": "non-finite loss"})
            self._pictures()
            kept = (f"the last good checkpoint (step {self.saved_at}) is kept: {self.out / checkpoints.LAST}"
                    if (self.out / checkpoints.LAST).exists() else "no checkpoint had been written yet")
            raise TrainingStopped(f"the loss became {loss} at step {step}; training stopped ({kept})",
                                  Location(str(self.out)),
                                  hint="lower the learning rate (--set lr=...) and train again, or resume with "
                                       "--resume from the last checkpoint")
        if step % r.log_interval == 0 or step == self.plan.total_steps:
            now = time.perf_counter()
            ips = len(self.window) * r.batch_size / max(now - self.window_start, 1e-9)
            entry = {"step": step, "epoch": epoch, "loss": loss, "loss_avg": float(np.mean(self.window)), "lr": lr,
                     "images_per_s": round(ips, 3)}
            self.log.write(entry)
            eta = (self.plan.total_steps - step) * r.batch_size / ips if ips > 0 else None
            self.emit("advance", name="train", n=len(self.window), step=step, loss=loss, lr=lr, images_per_s=ips,
                      eta_s=eta)
            self.window = []
            self.window_start = time.perf_counter()
        if r.eval_interval and step % r.eval_interval == 0 and step < self.plan.total_steps:
            self._evaluate(step, evaluator)
        if r.checkpoint_interval and step % r.checkpoint_interval == 0 and self.main and step > self.saved_at:
            self._save_last(step)

    def _save_last(self, step: int) -> None:
        checkpoints.save(self.trainer, self.out / checkpoints.LAST, step)
        self.saved_at = step

    def _evaluate(self, step: int, evaluator) -> None:
        self.evaluated_at = step
        if evaluator is None or not self.main:
            return
        t0 = time.perf_counter()
        try:
            self._run_evaluation(step, evaluator)
        finally:  # training throughput leaves the evaluation out
            spent = time.perf_counter() - t0
            self.window_start += spent
            self.session_start += spent

    def _run_evaluation(self, step: int, evaluator) -> None:
        if step > self.saved_at:  # first: a failing evaluation (say, a bad val mask) keeps the steps trained
            self._save_last(step)
        self.emit("phase", name="train", text=f"evaluating on {evaluator.split.name} ({len(evaluator.split)} images, "
                                             f"input {evaluator.size[0]}x{evaluator.size[1]})")
        evaluator.load_from(self.trainer.net)
        result = evaluator.run()
        summary = result.summary()
        self.log.write({"step": step, "eval": summary})
        self.evals.append({"step": step, **summary})
        key, value = result.metric
        text = ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if isinstance(v, float) and k != "images_per_s")
        self.emit("phase", name="train", text=f"step {step}: {text}")
        if value is not None and math.isfinite(value) and (self.best is None or value > self.best[key]):
            self.best = {"step": step, **summary}
            checkpoints.save(self.trainer, self.out / checkpoints.BEST, step, with_optimizer=False)

    def finish(self, step: int, evaluator) -> None:
        if step > self.evaluated_at and step > self.start:
            self._evaluate(step, evaluator)
        if self.main and step > self.saved_at:
            self._save_last(step)
        self._pictures()

    def _pictures(self) -> None:
        if not self.main:
            return
        from archspec.training.plots import draw_curves

        entries = self.log.entries()
        steps = [e for e in entries if "loss" in e and isinstance(e["loss"], (int, float))]
        panels = [("training loss", [("loss (mean over the log interval)", [e["step"] for e in steps],
                                      [e.get("loss_avg", e["loss"]) for e in steps])])]
        evals = runlog.evaluations(entries)
        if evals:
            keys = ["miou", "pixel_accuracy"] if self.plan.task == "segmentation" else ["top1", "top5"]
            panels.append((f"evaluation on {self.plan.val_split}",
                           [(k, [s for s, _ in evals], [float(ev.get(k, float("nan"))) for _, ev in evals])
                            for k in keys]))
        self.curves = str(draw_curves(panels, self.out / "curves.png"))
