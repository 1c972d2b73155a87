"""Rendering helpers shared by the commands: tables that fit the terminal, JSON on stdout."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from archspec.cli.app import esc, out


def print_json(data: Any) -> None:
    """`--json`: the result as JSON on stdout (the same meaning in every command)."""
    sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return dataclasses.asdict(v)
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (set, tuple)):
        return list(v)
    return str(v)


def print_table(table) -> None:
    """A rich table: fitted to a terminal's width; at its natural width when piped, so numbers are never cut."""
    if out.is_terminal:
        out.print(table)
        return
    from rich.measure import Measurement

    need = Measurement.get(out, out.options.update_width(10_000), table).maximum
    saved = out.width
    out.width = max(saved, need)  # print(width=) is capped at the console's width
    try:
        out.print(table)
    finally:
        out.width = saved


def line(text: str) -> None:
    """One line of user-derived text, escaped."""
    out.print(esc(text))


def shown(path: str | Path | None) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def timings_line(timings: dict[str, float], unit: str = "ms") -> str:
    if unit == "s":
        return "time: " + "  ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    return "time: " + "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())
