"""`archspec.profile`: speed and memory of one spec in several execution modes, each in its own process."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from archspec.api.common import Event, InputShapes, SpecLike, graph_of


@dataclass
class ProfileReport:
    """What `archspec profile` measured; `modes` holds one dict per mode (times in ms: first_call_ms,
    median_ms, p10_ms, p90_ms, min_ms, times_ms; images_per_s, peak_rss_mb, base_rss_mb (after
    importing MindSpore and setting up the device), rss_above_base_mb, device_peak_mb,
    speedup_vs_pynative, max_abs_diff, rel_diff, output_max_abs, ...)."""

    spec: str
    name: str
    device: str
    inputs: dict[str, list[int]]
    outputs: dict[str, list[int]]
    params: int
    macs: int
    iters: int
    warmup: int
    seed: int
    weights: str
    jit_level: str
    cpu_isa: str
    mindspore: str
    available_devices: list[str]
    reference_mode: str
    machine: dict[str, Any]
    modes: list[dict[str, Any]]
    ops: dict[str, Any] | None = None  # the per-op breakdown (--ops)
    notes: list[str] = field(default_factory=list)

    def mode(self, name: str) -> dict[str, Any]:
        return next(r for r in self.modes if r["mode"] == name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def profile(spec: SpecLike, *, overrides: Mapping[str, Any] | None = None, input_shapes: InputShapes = None,
            allow_outside_imports: bool = False, modes: str | Sequence[str] = "all",
            device: str = "CPU", jit_level: str | None = None, iters: int = 10, warmup: int = 2, seed: int = 0,
            weights: str | Path | None = None, allow_nonfinite: bool = False, isa_fix: bool = True, ops: bool = False, top: int = 15,
            trace_dir: str | Path | None = None, ops_replay: bool = False, timeout: float | None = None,
            on_event: Event | None = None) -> ProfileReport:
    """Time `spec`'s model in each mode ("all" or some of pynative, graph-separate, graph, graph-fold,
    mindir), each in its own process with identical weights and input; see
    `archspec.profiling.parent`. Raises SpecError for user mistakes and
    `archspec.profiling.parent.WorkerFailed` when a worker crashes."""
    from archspec.profiling.parent import run_profile
    from archspec.profiling.request import ProfileRequest, check_request, parse_modes

    if isinstance(spec, (str, Path)):
        spec_path = str(spec)
    else:
        from archspec.errors import Location, SpecError

        raise SpecError("profile runs each mode in its own process, which loads the spec from its file",
                        Location("SPEC"), hint="pass the spec's path")
    req = ProfileRequest(spec=spec_path, modes=parse_modes(modes if isinstance(modes, str) else ",".join(modes)),
                         device=device, jit_level=jit_level, iters=iters, warmup=warmup, seed=seed,
                         weights=str(weights) if weights else None, allow_nonfinite=allow_nonfinite,
                         isa_fix=isa_fix, ops=ops, top=top,
                         trace_dir=str(trace_dir) if trace_dir else None, ops_replay=ops_replay, timeout=timeout,
                         allow_outside_imports=allow_outside_imports)
    check_request(req)  # bad arguments fail here, before the spec is even loaded
    _, graph = graph_of(spec_path, overrides, input_shapes, allow_outside_imports=allow_outside_imports)
    req.overrides = {k: str(v) for k, v in (overrides or {}).items()}
    req.input_shapes = {k: list(v) for k, v in graph.inputs.items()}
    report = run_profile(req, graph, on_event=on_event)
    if not req.trace_dir and report.get("ops"):
        report["ops"].pop("trace_files", None)
        report["ops"].pop("trace_dir", None)
    return ProfileReport(**report)
