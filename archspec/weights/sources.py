"""`read_source`: any weight file archspec can import from, by its suffix, as name -> NumPy array;
`list_source`: its tensors' names, shapes and data types, read from the file's headers only."""
from __future__ import annotations

from pathlib import Path
import numpy as np

from archspec.errors import Location, SpecError
from archspec.weights.checkpoint import list_checkpoint, read_checkpoint
from archspec.weights.readers import (Listing, list_npz, list_safetensors, list_torch, read_npz, read_safetensors,
                                      read_torch)

SOURCE_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors", ".npz", ".ckpt")


def _kind(p: Path, shown: str) -> str:
    suffix = p.suffix.lower()
    if suffix in (".pth", ".pt", ".bin"):
        return "torch"
    if suffix in (".safetensors", ".npz", ".ckpt"):
        return suffix[1:]
    raise SpecError("cannot tell the file format from its name", Location(shown),
                    hint="supported: " + ", ".join(SOURCE_SUFFIXES) + " (rename the file if it is one of them)")


def _strip_module(names: list[str], notes: list[str]) -> bool:
    if len(names) > 1 and all(n.startswith("module.") for n in names):
        notes.append("stripped the 'module.' prefix (DataParallel) from every name")
        return True
    return False


def _by_format(path: str | Path, read: bool):
    """(the arrays, or the listing; notes) of a weight file, by the reader its suffix names."""
    p, shown = Path(path), str(path)
    kind = _kind(p, shown)
    notes: list[str] = []
    if kind == "torch":
        found = (read_torch if read else list_torch)(p, shown, notes)
    elif kind == "safetensors":
        found = (read_safetensors if read else list_safetensors)(p, shown)
    elif kind == "npz":
        found = (read_npz if read else list_npz)(p, shown)
    else:
        found = (read_checkpoint if read else list_checkpoint)(p, option="SOURCE")
    if not found:
        raise SpecError("the file holds no tensors", Location(shown))
    return found, notes


def read_source(path: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Read a state_dict-like file into name -> NumPy array (file order) plus notes on what was done."""
    arrays, notes = _by_format(path, read=True)
    if _strip_module(list(arrays), notes):
        arrays = {n[len("module."):]: v for n, v in arrays.items()}
    return arrays, notes


def list_source(path: str | Path) -> tuple[Listing, list[str]]:
    """The (name, shape, dtype) of every tensor of a weight file, in file order, and notes; no tensor
    data is read (PyTorch files are loaded onto the "meta" device, the other formats' headers read)."""
    tensors, notes = _by_format(path, read=False)
    if _strip_module([n for n, _, _ in tensors], notes):
        tensors = [(n[len("module."):], s, d) for n, s, d in tensors]
    return tensors, notes
