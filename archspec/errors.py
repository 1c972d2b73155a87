"""The one exception type for user mistakes, and where in which file they were made."""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class Location:
    """A 1-based position in a spec file."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class SpecError(Exception):
    """A user mistake, positioned: `file:line:col: path: message` plus an optional hint."""

    message: str
    loc: Location | None = None
    path: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def render(self) -> str:
        where = str(self.loc) + ": " if self.loc else ""
        path = self.path + ": " if self.path else ""
        text = f"{where}{path}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self.render()


@dataclass
class SpecErrors(Exception):
    """Several independent user mistakes found in one run (capped at MAX_REPORTED_ERRORS)."""

    errors: list[SpecError] = field(default_factory=list)
    truncated: int = 0

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def render(self) -> str:
        lines = [e.render() for e in self.errors]
        if self.truncated:
            lines.append(f"... and {self.truncated} more error(s) not shown")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ErrorSink:
    """Collects independent errors so one run reports all of them (up to a cap)."""

    def __init__(self, cap: int = MAX_REPORTED_ERRORS) -> None:
        self.cap = cap
        self.errors: list[SpecError] = []
        self.dropped = 0
        self._seen: set[tuple] = set()

    def add(self, err: SpecError | SpecErrors) -> None:
        items = err.errors if isinstance(err, SpecErrors) else [err]
        for e in items:
            key = (e.loc, e.message)  # one report per place: a block's mistake shows once, not per instance
            if key in self._seen:
                continue
            self._seen.add(key)
            if len(self.errors) < self.cap:
                self.errors.append(e)
            else:
                self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if not self.errors:
            return
        self.errors.sort(key=lambda e: (e.loc.file, e.loc.line, e.loc.col) if e.loc else ("", 0, 0))
        if len(self.errors) == 1 and not self.dropped:
            raise self.errors[0]
        raise SpecErrors(list(self.errors), self.dropped)


def did_you_mean(name: str, choices) -> str:
    """A 'did you mean' hint for an unknown name, or '' when nothing is close."""
    import difflib

    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if choices and len(choices) <= 12:
        return "known: " + ", ".join(choices)
    return ""


# MindSpore's messages go on with sections that repeat the C++ call stack and traceback.
_SECTION_MARKS = ("----", "- C++ Call Stack", "- The Traceback")


def error_head(exc: BaseException, lines: int = 3, limit: int = 300) -> str:
    """The head of an exception's message for a one-line report: its first `lines` non-empty lines
    (stopping where MindSpore's call-stack sections start), whitespace collapsed, at most `limit`
    characters; the exception's type name when it has no message."""
    head = []
    for line in str(exc).splitlines():
        if line.startswith(_SECTION_MARKS):
            break
        if line.strip():
            head.append(line.strip())
        if len(head) >= lines:
            break
    text = " ".join(" ".join(head).split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
