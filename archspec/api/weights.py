"""`archspec.import_weights` and `archspec.show_weights`: weights trained elsewhere, in spec names."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from archspec.api.common import SpecLike, graph_of


@dataclass
class WeightListing:
    """The tensors of a weight file, in file order."""

    path: Path
    tensors: list[tuple[str, tuple[int, ...], str]]  # (name, shape, dtype)
    notes: list[str] = field(default_factory=list)  # e.g. "stripped the 'module.' prefix"

    @property
    def values(self) -> int:
        total = 0
        for _, shape, _ in self.tensors:
            n = 1
            for d in shape:
                n *= d
            total += n
        return total


def import_weights(spec: SpecLike, source: str | Path, out: str | Path | None, *,
                   map_path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                   allow_outside_imports: bool = False, force: bool = False, allow_partial: bool = False,
                   allow_nonfinite: bool = False):
    """Rename `source`'s tensors (PyTorch, safetensors, npz, another .ckpt) onto `spec`'s parameter
    names by a weight map, check every name and shape, and write a MindSpore checkpoint to `out`
    (`out=None` checks and writes nothing). Returns an `ImportReport`; see `archspec.weights.importer`."""
    from archspec.files import check_target
    from archspec.weights.importer import import_weights as import_into

    if out is not None:
        check_target(out, force, "--out")  # before the slow part
    _, graph = graph_of(spec, overrides, allow_outside_imports=allow_outside_imports)
    return import_into(graph, source, out, map_path=map_path, force=force, allow_partial=allow_partial,
                       allow_nonfinite=allow_nonfinite)


def show_weights(path: str | Path, grep: str | None = None) -> WeightListing:
    """List a weight file's tensors (name, shape, dtype), optionally only names containing `grep`.
    Only the file's headers are read (a PyTorch zip file is mapped): no tensor is materialised."""
    from archspec.weights.sources import list_source

    found, notes = list_source(path)
    tensors = [(name, shape, dtype) for name, shape, dtype in found if not grep or grep in name]
    return WeightListing(Path(path), tensors, notes)
