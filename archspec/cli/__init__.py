"""The archspec command line: a thin skin over the Python API (`archspec.api`).

`app.py` holds the typer app and error handling, `options.py` the options shared by commands,
`progress.py` and `render.py` the rendering; every other module is one command (or one command
group) and registers itself on the app when imported. Nothing here imports MindSpore: commands
that need it reach it through an API verb.
"""
from __future__ import annotations

import importlib
import pkgutil

from archspec.cli.app import app

_SUPPORT = {"app", "options", "progress", "render"}
# the order of `archspec -h`: the everyday path first; any other command module follows
_ORDER = ("validate", "build", "compile", "export", "profile", "predict", "train", "eval", "weights", "graph", "schema")


def _register_commands() -> None:
    found = [i.name for i in pkgutil.iter_modules(__path__) if i.name not in _SUPPORT and not i.name.startswith("_")]
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"{__name__}.{name}")


_register_commands()


def main() -> None:
    app()


__all__ = ["app", "main"]
