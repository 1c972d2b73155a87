"""CLI commands beyond the core ones in cli.py, one module each.

Each module registers its command on `archspec.cli.app` when imported. Modules must import
MindSpore (and anything heavy) inside the command function, never at module level, so that
`archspec validate` stays instant.
"""
import importlib
import pkgutil


def register_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
