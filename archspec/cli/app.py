"""The typer app every command registers on, and how a command's outcome reaches the terminal.

A command parses its options, calls ONE API verb (`archspec.api`), and renders what it returns.
User mistakes (`SpecError`) are printed as `file:line:col: path: message` plus a hint, exit 2;
anything else is an internal error, exit 1; tracebacks only with `--debug`. All user text goes
through `esc` (rich markup and terminal control characters escaped) before it is printed.
"""
from __future__ import annotations

import functools
from typing import Optional

import typer
from rich.console import Console

from archspec import __version__
from archspec.errors import SpecError, SpecErrors

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="archspec: write a vision model once as a YAML spec; validate, build, compile, export, profile, "
         "train and evaluate it with MindSpore.",
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)  # one line per error: file:line:col stays greppable
_state = {"debug": False}


# Bidirectional-text controls reorder what the terminal shows (a name can look like another one).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(c: str) -> bool:
    o = ord(c)
    return (o < 32 and c not in "\n\t") or 127 <= o < 160 or c in _BIDI


def esc(text: object) -> str:
    """User text made safe for the terminal: rich markup escaped; C0 and C1 control characters
    (ESC, BEL, the one-byte CSI: terminal escape sequences such as window-title and clipboard
    writes) and bidirectional-text controls shown as \\xNN / \\uNNNN."""
    from rich.markup import escape

    s = str(text)
    if any(_unsafe(c) for c in s):
        s = "".join((f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}") if _unsafe(c) else c for c in s)
    return escape(s)


def _version(value: bool) -> None:
    if value:
        out.print(f"archspec {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors."),
) -> None:
    _state["debug"] = debug


def print_errors(e: SpecError | SpecErrors) -> None:
    items = e.errors if isinstance(e, SpecErrors) else [e]
    for item in items:
        head = (str(item.loc) + ": ") if item.loc else ""
        path = (item.path + ": ") if item.path else ""
        err.print(f"[bold]{esc(head)}[/bold][cyan]{esc(path)}[/cyan][red]{esc(item.message)}[/red]")
        if item.hint:
            err.print(f"  [green]hint:[/green] {esc(item.hint)}")
    if isinstance(e, SpecErrors) and e.truncated:
        err.print(f"... and {e.truncated} more error(s)")


def fail(e: SpecError | SpecErrors) -> None:
    """Print a user mistake and exit 2."""
    print_errors(e)
    raise typer.Exit(2)


def debug() -> bool:
    return _state["debug"]


def guarded(fn):
    """Run a command body; user mistakes become clean messages (tracebacks only with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (SpecError, SpecErrors) as e:
            if debug():
                raise
            fail(e)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130)
        except typer.Exit:
            raise
        except Exception as e:  # a bug in archspec or MindSpore, not a user mistake
            if debug():
                raise
            from archspec.errors import error_head

            err.print(f"[red]internal error:[/red] {type(e).__name__}: {esc(error_head(e, lines=5, limit=2000))}")
            err.print("  run again with --debug for the traceback, and please report it")
            raise typer.Exit(1)
    return wrapper


def command(name: str | None = None, parent: typer.Typer | None = None):
    """Register a guarded command on the app (or on a sub-app such as `weights`)."""

    def register(fn):
        return (parent or app).command(name)(guarded(fn))

    return register
