"""What every API verb shares: turning "a spec" into a graph, checking input files, progress events.

A verb accepts a spec as a path, a loaded `Spec` or a resolved `Graph`, so Python users can pass
what they have; the CLI passes the path it was given.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

from archspec.errors import Location, SpecError
from archspec.graph.ir import Graph
from archspec.progress import Event, quiet, stage  # noqa: F401  (re-exported for the verbs)
from archspec.spec.loader import Spec

SpecLike = Union[str, Path, Spec, Graph]
InputShapes = Union[Sequence[int], Mapping[str, Sequence[int]], None]


def load(path: str | Path, overrides: Mapping[str, Any] | None = None, *, allow_outside_imports: bool = False,
         override_source: str = "overrides") -> Spec:
    """Load and check a spec file (no MindSpore). Raises SpecError/SpecErrors for every mistake found."""
    from archspec.spec.loader import load as load_spec

    return load_spec(path, overrides, allow_outside_imports=allow_outside_imports, override_source=override_source)


def resolve(spec: Spec, input_shapes: InputShapes = None, *, fuse: bool = True) -> Graph:
    """A loaded spec as a typed Graph (shapes, params, MACs); conv -> bn -> act chains fused by default.

    `input_shapes`: {input name: shape}, or one shape for a spec with a single input.
    """
    from archspec.graph import spec_graph

    return spec_graph(spec, _named_shapes(spec, input_shapes), fuse=fuse)


def graph_of(spec: SpecLike, overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None, *,
             allow_outside_imports: bool = False, fuse: bool = True,
             timings: dict[str, float] | None = None) -> tuple[Spec | None, Graph]:
    """(the loaded Spec or None, the resolved Graph) for a spec path, Spec or Graph.

    A Graph is taken as it is: `overrides` and `input_shapes` need the spec, so they are refused.
    """
    if isinstance(spec, Graph):
        if overrides or input_shapes:
            raise SpecError("param overrides and input shapes apply to a spec, not to an already resolved graph",
                            Location("overrides"), hint="pass the spec file or the loaded Spec instead")
        return None, spec
    t0 = time.perf_counter()
    loaded = spec if isinstance(spec, Spec) else load(spec, overrides, allow_outside_imports=allow_outside_imports,
                                                      override_source="--set")
    if isinstance(spec, Spec) and overrides:
        raise SpecError("param overrides are applied when a spec is loaded", Location("overrides"),
                        hint="pass the spec file, or archspec.load(path, overrides=...)")
    t1 = time.perf_counter()
    graph = resolve(loaded, input_shapes, fuse=fuse)
    if timings is not None:
        timings.update(load=t1 - t0, resolve=time.perf_counter() - t1)
    return loaded, graph


def _named_shapes(spec: Spec, shapes: InputShapes) -> dict[str, tuple[int, ...]] | None:
    if shapes is None:
        return None
    if isinstance(shapes, Mapping):
        named = {str(k): tuple(int(d) for d in v) for k, v in shapes.items()}
        if "" not in named:
            return named
        shape = named.pop("")
    else:
        named, shape = {}, tuple(int(d) for d in shapes)
    if len(spec.inputs) != 1:
        raise SpecError(f"the spec has {len(spec.inputs)} inputs; say which: --input-shape NAME=N,C,H,W",
                        Location("--input-shape"), hint="inputs: " + ", ".join(spec.inputs))
    named[next(iter(spec.inputs))] = shape
    return named


def existing_file(path: str | Path | None, option: str, what: str = "file") -> Path | None:
    """`path` as a Path when it names an existing regular file; a SpecError at `option` otherwise."""
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        raise SpecError(f"{what} not found: {p}", Location(option), hint="check the path")
    if p.is_dir():
        raise SpecError(f"{p} is a folder, not a {what}", Location(option))
    if not p.is_file():
        raise SpecError(f"{p} is not a regular file", Location(option), hint=f"give a {what} on disk")
    return p


def needs_weights(allow_partial: bool, weights: object) -> None:
    if allow_partial and weights is None:
        raise SpecError("--allow-partial needs --weights CKPT", Location("--allow-partial"))
