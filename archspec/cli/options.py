"""Options shared by several commands, declared once so their flags and help read the same everywhere.

Short flags have one meaning across commands: -s --set, -o --out, -w --weights, -f --format,
-n --iters, -h --help.
"""
from __future__ import annotations

import enum
from pathlib import Path
from typing import List, Optional

import typer

from archspec.errors import Location, SpecError


class DeviceName(str, enum.Enum):
    CPU = "CPU"
    GPU = "GPU"
    Ascend = "Ascend"


class JitLevelName(str, enum.Enum):
    O0 = "O0"
    O1 = "O1"
    O2 = "O2"


class LayoutName(str, enum.Enum):  # archspec.data.layouts.LAYOUTS (tests/cli/test_conventions.py)
    voc = "voc"
    cityscapes = "cityscapes"
    list = "list"
    folders = "folders"


Spec = typer.Argument(..., metavar="SPEC", help="The spec file (YAML), e.g. specs/deeplabv3p.yaml, or a shipped one "
                                                 "by its library name, e.g. archspec:deeplabv3p.yaml.")
Set = typer.Option(None, "--set", "-s", metavar="NAME=VALUE", help="Override a spec param (repeatable).")
InputShape = typer.Option(None, "--input-shape", metavar="N,C,H,W",
                          help="Override the input shape (NAME=N,C,H,W when the spec has several inputs).")
Outside = typer.Option(False, "--allow-outside-imports",
                       help="Allow relative imports/extends that leave the spec's folder ('..').")
NoIsaFix = typer.Option(False, "--no-isa-fix",
                        help="Keep oneDNN's own CPU ISA choice (by default archspec sets ONEDNN_MAX_CPU_ISA=AVX2 on "
                             "AVX-512 CPUs, avoiding a slow reference convolution; same as ARCHSPEC_NO_ISA_FIX=1).")
Weights = typer.Option(None, "--weights", "-w", metavar="CKPT",
                       help="Load a MindSpore checkpoint (.ckpt) by parameter name; strict unless --allow-partial.")
AllowPartial = typer.Option(False, "--allow-partial",
                            help="With --weights: load the parameters that fit, keep the others as initialized and "
                                 "list them (e.g. for a new number of classes).")
AllowNonfinite = typer.Option(False, "--allow-nonfinite",
                              help="Load weights even if some hold NaN or infinite values (refused by default: the "
                                   "outputs would mean nothing).")
Force = typer.Option(False, "--force", help="Overwrite existing output files.")
Json = typer.Option(False, "--json", help="Print the result as JSON on stdout instead of tables.")
Device = typer.Option(DeviceName.CPU, "--device", case_sensitive=False, help="The device to run on.")
JitLevel = typer.Option(JitLevelName.O0, "--jit-level", case_sensitive=False,
                        help="Graph jit level: O0 kernel by kernel, O1 plus automatic operator fusion (where the "
                             "backend supports it), O2 whole-graph sink (Ascend only).")
Layout = typer.Option(None, "--layout", case_sensitive=False,
                      help="The dataset's layout: Pascal VOC, Cityscapes, list files or class folders (default: "
                           "detected).")
Seed = typer.Option(0, "--seed", help="Seed of random weights and inputs.")


def value(choice: enum.Enum | None):
    """The text of an optional choice option (None when not given)."""
    return None if choice is None else choice.value


def overrides(items: Optional[List[str]]) -> dict[str, str]:
    """--set NAME=VALUE items as a dict (values are parsed by each param's type when the spec loads)."""
    from archspec.spec.params import parse_set_options

    return parse_set_options(items or [])


def input_shapes(items: Optional[List[str]]) -> dict[str, tuple[int, ...]] | None:
    """--input-shape items: {name: shape}; the name is '' for a bare N,C,H,W (the spec's only input)."""
    if not items:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        text = dims if sep else item
        try:
            shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
        except ValueError:
            shape = ()
        if not shape or any(d < 1 for d in shape):
            raise SpecError(f"--input-shape expects positive integers like 1,3,513,513; got {item!r}",
                            Location("--input-shape"))
        shapes[name or ""] = shape
    return shapes


def spec_inputs(set_: Optional[List[str]], input_shape: Optional[List[str]] = None,
                allow_outside_imports: bool = False) -> dict:
    """The keyword arguments every verb takes for the spec's params, input shapes and imports."""
    return {"overrides": overrides(set_), "input_shapes": input_shapes(input_shape),
            "allow_outside_imports": allow_outside_imports}


def path_or_none(p: Optional[Path]) -> Optional[str]:
    return None if p is None else str(p)
