"""A run's JSON Lines log (`log.jsonl`): one object per logged step
(`{"step", "loss", "lr", "images_per_s", "epoch"}`) and per evaluation (`{"step", "eval": {...}}`).

The log is the run's history: a resumed run drops the entries after the checkpoint it resumes from
(they belong to steps it will redo) and finds its best evaluation so far in it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from archspec.files import atomic_path

LOG = "log.jsonl"
MAX_LOG_BYTES = 256 * 1024 * 1024


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as strings a reader can recognise."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunLog:
    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.path = folder / LOG
        self.enabled = enabled

    def write(self, entry: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(_clean(entry), sort_keys=False) + "\n")

    def entries(self) -> list[dict]:
        return read_log(self.path)

    def truncate_after(self, step: int) -> list[dict]:
        """Keep the entries up to `step` (rewritten atomically); returns them."""
        kept = [e for e in self.entries() if int(e.get("step", 0)) <= step]
        if self.enabled and self.path.exists():
            with atomic_path(self.path) as tmp:
                tmp.write_text("".join(json.dumps(e) + "\n" for e in kept), encoding="utf-8")
        return kept


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    if path.stat().st_size > MAX_LOG_BYTES:
        raise ValueError(f"{path} is larger than {MAX_LOG_BYTES} bytes")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash
    return out


def evaluations(entries: Iterable[dict]) -> list[tuple[int, dict]]:
    return [(int(e["step"]), e["eval"]) for e in entries if "eval" in e]
