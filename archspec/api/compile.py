"""`archspec.compile`: build a spec, compile it in GRAPH_MODE, time it and count its kernels, for the
product's lowering (every conv unit one nn.Conv2dBnAct) and, beside it, the separate-cells lowering
(nn.Conv2d, nn.BatchNorm2d and the activation as cells of their own), so a user sees whether the
backend fused anything for the fused form."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from archspec.api.common import Event, InputShapes, SpecLike, graph_of, quiet, stage
from archspec.graph.ir import Graph


@dataclass
class CompileResult:
    graph: Graph
    device: str
    cpu_isa: str
    report: Any  # archspec.runtime.compile.CompileReport: times, kernels and graph nodes by kind
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    separate: Any = None  # the same for the separate-cells lowering (conv.cells=separate), or None

    @property
    def kernels_by_lowering(self) -> dict[str, dict[str, int]] | None:
        """{kind: {"fused": n, "separate": m}} over both lowerings' kernels (None: not both counted)."""
        return _side_by_side(self.report.kernels, getattr(self.separate, "kernels", None))

    @property
    def backend_fused(self) -> int | None:
        """How many fewer kernels the fused lowering launches than the separate one (0: none fused)."""
        if self.separate is None or self.separate.kernels is None or self.report.kernels is None:
            return None
        return self.separate.kernels_total - self.report.kernels_total

    def to_dict(self) -> dict[str, Any]:
        r, g = self.report, self.graph
        return {
            "name": g.name, "spec": g.source, "device": self.device, "mode": "graph", "jit_level": r.jit_level,
            "cpu_isa": self.cpu_isa,
            "inputs": {k: list(v) for k, v in g.inputs.items()},
            "outputs": {o: list(g.shape_of(o)) for o in g.outputs},
            "spec_nodes": len(g.nodes), "spec_conv_nodes": sum(1 for n in g.nodes if n.op == "conv"),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "steady_runs": r.runs, "kernels": r.kernels, "kernels_total": r.kernels_total,
            "graph_nodes": r.graph_nodes, "graph_nodes_total": r.graph_nodes_total,
            "ir": ({"dir": r.ir_dir, "files": r.ir_files, "final_graph": r.final_graph, "kernel_list": r.kernel_list}
                   if r.ir_dir else None),
            "lowerings": {"fused": _lowering_dict(r), "separate": _lowering_dict(self.separate)},
            "kernels_by_lowering": self.kernels_by_lowering, "backend_fused": self.backend_fused,
            "notes": self.notes,
        }


def _lowering_dict(r) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"compile_s": round(r.compile_s, 4), "first_run_s": round(r.first_run_s, 4),
            "steady_run_s": None if r.steady_run_s is None else round(r.steady_run_s, 4),
            "kernels": r.kernels, "kernels_total": r.kernels_total, "graph_nodes": r.graph_nodes,
            "graph_nodes_total": r.graph_nodes_total}


def _side_by_side(fused: dict[str, int] | None, separate: dict[str, int] | None) -> dict[str, dict[str, int]] | None:
    if fused is None or separate is None:
        return None
    kinds = list(fused) + [k for k in separate if k not in fused]
    return {k: {"fused": fused.get(k, 0), "separate": separate.get(k, 0)} for k in kinds}


def compile(spec: SpecLike, *, overrides: Mapping[str, Any] | None = None,  # noqa: A001 (the verb's name)
            input_shapes: InputShapes = None, allow_outside_imports: bool = False, jit_level: str = "O0",
            device: str = "CPU", runs: int = 5, dump_ir: str | Path | None = None, isa_fix: bool = True,
            seed: int = 0, separate: bool = True, on_event: Event | None = None) -> CompileResult:
    """Compile `spec`'s Cell at `jit_level` on a seeded random input; report compile, first-run and
    steady-state times and the compiled graph's kernels by kind (`archspec.runtime.compile`).
    `separate`: compile the separate-cells lowering too (`CompileResult.separate`), whose kernel
    counts show whether the backend fused anything for nn.Conv2dBnAct.

    `dump_ir`: keep MindSpore's IR files of every pass in that folder. Kernel counts need IR
    capture, which must be set up before MindSpore runs anything in this process.
    """
    import numpy as np

    from archspec.errors import Location, SpecError
    from archspec.files import make_folder
    from archspec.runtime.compile import prepare_ir_capture
    from archspec.runtime.host import canonical_device, check_jit_level

    emit = on_event or quiet
    if runs < 1:
        raise SpecError(f"--runs must be at least 1, got {runs}", Location("--runs"))
    dev = canonical_device(device)
    level = check_jit_level(jit_level, dev)
    ir_dir = make_folder(dump_ir, "--dump-ir").resolve() if dump_ir is not None else None
    timings: dict[str, float] = {}
    _, graph = graph_of(spec, overrides, input_shapes, allow_outside_imports=allow_outside_imports, timings=timings)
    prepare_ir_capture(full=ir_dir is not None)  # read once by MindSpore, when it starts
    with stage(emit, "setup", "starting MindSpore", timings, "setup_mindspore"):
        from archspec.runtime.host import setup

        runtime = setup(dev, "graph", level, isa_fix=isa_fix)
    with stage(emit, "lower", "building the Cell", timings):
        from archspec.lower import build_cell

        net = build_cell(graph)
        rng = np.random.default_rng(seed)
        inputs = [rng.standard_normal(shape).astype(np.float32) for shape in graph.inputs.values()]
    with stage(emit, "compile", f"compiling in GRAPH mode (jit level {level}) and running {runs + 1} times"):
        from archspec.runtime.compile import compile as compile_net

        report = compile_net(net, inputs, level, runs=runs, ir_dir=ir_dir)
    timings.update(compile=report.compile_s, first_run=report.first_run_s)
    if report.steady_run_s is not None:
        timings["steady_run"] = report.steady_run_s
    split = None
    if separate:
        with stage(emit, "separate", "compiling the separate-cells lowering (nn.Conv2d, nn.BatchNorm2d, activation)"):
            del net  # one network in memory at a time
            # its IR files are counted, not kept: --dump-ir is about the product's lowering
            split = compile_net(build_cell(graph, options={"conv.cells": "separate"}), inputs, level, runs=runs)
        timings["compile_separate"] = split.compile_s
    return CompileResult(graph=graph, device=runtime.device, cpu_isa=runtime.isa, report=report,
                         notes=runtime.notes + report.notes, timings=timings, separate=split)
