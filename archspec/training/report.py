"""What a training run did (`archspec.train` returns it). Plain data: importing it loads nothing heavy."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainReport:
    run: str  # the run folder
    spec: str
    steps: int  # steps done in all (including before a resume)
    total_steps: int
    started_at: int  # the step this session started from (0, or the resumed step)
    last_loss: float | None
    last_checkpoint: str | None
    best_checkpoint: str | None
    best: dict | None  # the best evaluation: {"step", "miou"/"top1", ...}
    evaluations: list[dict] = field(default_factory=list)  # this session's evaluation summaries
    log: str = ""
    curves: str | None = None
    weights: str | None = None  # what loading the starting weights did
    images_per_s: float | None = None  # training throughput of this session (all ranks)
    world: int = 1
    ranks_agree: bool | None = None  # several ranks: whether all ended with the same trainable weights
    notes: list[str] = field(default_factory=list)
