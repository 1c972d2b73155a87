"""Rendering a verb's progress events (archspec.progress) on stderr.

On a terminal each stage is a line with a spinner (or a bar when the stage says how many steps it
has) and its elapsed time, removed when the command ends. When stderr is not a terminal (a pipe,
a CI log) each stage (and each phase of a long stage) is one plain line, so a long step never
looks like a hang.
"""
from __future__ import annotations

from typing import Any

from archspec.cli.app import err, esc


class Progress:
    """`with Progress() as p: verb(..., on_event=p.event)`."""

    def __init__(self, enabled: bool = True) -> None:
        self.live = enabled and err.is_terminal
        self.plain = enabled and not err.is_terminal
        self.tasks: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.bar = None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bars, SpinnerColumn, TextColumn
            from rich.progress import TimeElapsedColumn

            self.bar = Bars(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def event(self, kind: str, name: str = "", **data: Any) -> None:
        if kind == "stage":
            self._stage(name, str(data.get("label", name)), data.get("total"))
        elif name not in self.labels:
            return
        elif kind == "phase":
            self.phase(name, str(data.get("text", "")))
        elif kind == "advance" and self.bar is not None:
            self.bar.advance(self.tasks[name], int(data.get("n", 1)))
        elif kind == "done":
            self._done(name)

    def _stage(self, name: str, label: str, total: int | None) -> None:
        self.labels[name] = label
        if self.bar is not None:
            self.tasks[name] = self.bar.add_task(esc(label), total=total)
        elif self.plain:
            err.print(f"archspec: {esc(label)} ...")

    def phase(self, name: str, text: str) -> None:
        """Show `text` as what the stage `name` is doing now."""
        if self.bar is not None:
            self.bar.update(self.tasks[name], description=f"{esc(self.labels[name])}: {esc(text)}")
        elif self.plain:
            err.print(f"archspec: {esc(self.labels[name])}: {esc(text)}")

    def _done(self, name: str) -> None:
        if self.bar is not None:
            self.bar.update(self.tasks.pop(name), visible=False)
