"""DESIGN.md's layering rules, checked on the source (imports inside functions count too;
`if TYPE_CHECKING:` imports, which never run, do not).

Layers, lowest first; a module may import its own package and anything lower, never higher:
  errors, files, limits, progress, the package root (`__version__`)
  ops < spec < graph < lower < runtime < weights < prediction, profiling, data, training < api < cli
MindSpore is imported only by the lowering (`lower/`, the ops' lowering functions and their Cells),
`runtime/`, the worker processes and the modules that must touch tensors (listed below).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "archspec"
BASE = {"errors", "files", "limits", "progress", "__init__", "__main__", "version"}
RANK = {"ops": 1, "spec": 2, "graph": 3, "lower": 4, "runtime": 5, "weights": 6, "prediction": 7, "profiling": 7,
        "data": 7, "training": 7, "api": 8, "cli": 9}
# Where MindSpore may be imported, and why (a path prefix under archspec/).
MINDSPORE_ALLOWED = {
    "lower/": "the lowering builds Cells",
    "ops/": "the ops' lowering functions (imported inside them) and their Cells (ops/cells.py)",
    "runtime/": "host setup, compile, export",
    "profiling/worker.py": "the measurement worker process",
    "weights/checkpoint.py": "MindSpore's checkpoint protobuf schema and loading into a built net",
    "prediction/masks.py": "runs the built net on image batches",
    "data/": "mindspore.dataset pipelines",
    "training/": "train steps, optimizers, msrun workers",
}
# The CLI renders what the API returns: besides the API it may only use these pure helpers.
CLI_MAY_IMPORT = ("archspec.api", "archspec.cli", "archspec.errors", "archspec.graph.report", "archspec.spec.params")


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import that can run (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            skipped.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


SOURCES = sorted(PKG.rglob("*.py"))


def test_there_are_sources():
    assert len(SOURCES) > 40


def test_no_module_imports_a_higher_layer():
    offenders = []
    for f in SOURCES:
        rel = f.relative_to(PKG)
        me = rel.parts[0] if len(rel.parts) > 1 else "__init__"
        if me in BASE or rel.parts[0] in ("__init__.py", "__main__.py"):
            continue
        assert me in RANK, f"{rel}: package '{me}' has no place in the layering (add it to RANK and DESIGN.md)"
        for line, module in _imports(f):
            if not module.startswith("archspec"):
                continue
            target = _package(module)
            if target in BASE or target == me:
                continue
            assert target in RANK, f"{rel}:{line}: imports unknown package {module}"
            if RANK[target] > RANK[me]:
                offenders.append(f"{rel}:{line}: {me} imports {module} (a higher layer)")
    assert not offenders, "\n".join(offenders)


def test_mindspore_only_where_allowed():
    offenders = []
    for f in SOURCES:
        rel = f.relative_to(PKG).as_posix()
        if any(rel.startswith(prefix) for prefix in MINDSPORE_ALLOWED):
            continue
        for line, module in _imports(f):
            if module == "mindspore" or module.startswith("mindspore."):
                offenders.append(f"archspec/{rel}:{line}: {module}")
    assert not offenders, "\n".join(offenders)


def test_cli_only_renders_what_the_api_returns():
    offenders = []
    for f in sorted((PKG / "cli").rglob("*.py")):
        for line, module in _imports(f):
            if module.startswith("archspec") and module != "archspec" and not module.startswith(CLI_MAY_IMPORT):
                offenders.append(f"{f.relative_to(REPO)}:{line}: {module}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("command", ["validate", "resolve", "schema", "ops", "graph"])
def test_commands_that_need_no_model_never_load_mindspore(command, tmp_path):
    """Importing the whole CLI, and running the commands that need no model, loads no MindSpore."""
    args = {"validate": ["specs/resnet50.yaml"], "resolve": ["specs/resnet50.yaml"], "schema": [], "ops": [],
            "graph": ["specs/resnet50.yaml", "--out", str(tmp_path / "g.dot")]}[command]
    code = ("import sys\nfrom archspec.cli import app\n"
            f"try:\n    app({[command, *args]!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'mindspore')\n"
            "assert not loaded, loaded[:5]\nprint('NO-MINDSPORE')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0 and "NO-MINDSPORE" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
