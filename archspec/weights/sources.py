"""`read_source`: any weight file archspec can import from, by its suffix, as name -> NumPy array."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from archspec.errors import Location, SpecError
from archspec.weights.checkpoint import read_checkpoint
from archspec.weights.readers import check_readable, read_npz, read_safetensors, read_torch

SOURCE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".npz", ".ckpt")


def read_source(path: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Read a state_dict-like file into name -> NumPy array (file order) plus notes on what was done."""
    p = Path(path)
    shown = str(path)
    check_readable(p, shown, "SOURCE", what="weights")
    suffix = p.suffix.lower()
    notes: list[str] = []
    if suffix in (".pth", ".pt", ".bin"):
        arrays = read_torch(p, shown, notes)
    elif suffix == ".safetensors":
        arrays = read_safetensors(p, shown)
    elif suffix == ".npz":
        arrays = read_npz(p, shown)
    elif suffix == ".ckpt":
        arrays = read_checkpoint(p, option="SOURCE")
    else:
        raise SpecError("cannot tell the file format from its name", Location(shown),
                        hint="supported: " + ", ".join(SOURCE_SUFFIXES) + " (rename the file if it is one of them)")
    if not arrays:
        raise SpecError("the file holds no tensors", Location(shown))
    names = list(arrays)
    if len(names) > 1 and all(n.startswith("module.") for n in names):
        arrays = {n[len("module."):]: v for n, v in arrays.items()}
        notes.append("stripped the 'module.' prefix (DataParallel) from every name")
    return arrays, notes
