"""Progress events: how long-running steps tell their caller what they are doing.

A step reports through `on_event(kind, **data)`: ("stage", name=, label=, total=) when it starts
(total: how many units it will advance, or None), ("phase", name=, text=) and ("advance", name=, n=)
while it runs, ("done", name=) when it ends. The CLI renders them (a status line or a bar on a
terminal, one line per stage when piped); Python callers may pass nothing.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

Event = Callable[..., None]


def quiet(kind: str, **data: Any) -> None:
    """The event sink of a step called without `on_event`."""


@contextmanager
def stage(on_event: Event | None, name: str, label: str, timings: dict[str, float] | None = None,
          key: str | None = None, total: int | None = None) -> Iterator[None]:
    """Report one step to `on_event` (start and end) and time it into `timings[key or name]`."""
    emit = on_event or quiet
    emit("stage", name=name, label=label, total=total)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[key or name] = time.perf_counter() - t0
        emit("done", name=name)
