"""archspec: declarative, YAML-configured model building for MindSpore.

    import archspec

    spec = archspec.load("specs/deeplabv3p.yaml", overrides={"num_classes": 19})
    graph = archspec.resolve(spec)          # shapes, params and MACs; no MindSpore import
    print(graph)                            # one line per node
    net = archspec.build(graph).net         # a mindspore.nn.Cell (imports MindSpore)

The verbs live in `archspec.api` and are loaded on first use, so `import archspec` stays light
(`archspec validate` never imports MindSpore).
"""
from __future__ import annotations

__version__ = "0.1.0"

from archspec.errors import Location, SpecError, SpecErrors

_VERBS = ("load", "resolve", "validate", "build", "compile", "export", "profile", "predict", "import_weights",
          "show_weights", "draw", "schema", "list_ops", "diff", "specs", "train", "evaluate", "doctor")

__all__ = ["Location", "SpecError", "SpecErrors", "__version__", *_VERBS]


def __getattr__(name: str):
    if name in _VERBS:
        import archspec.api as api

        return getattr(api, name)
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
