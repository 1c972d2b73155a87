"""Reading MindSpore's profiler output: per-kernel times traced to spec nodes, and a trace file
whose events carry the spec node names. Pure Python (the worker runs the profiler)."""
from __future__ import annotations

import csv
import json
import re
import statistics
from pathlib import Path
from typing import Any

_SCOPE_NODE = re.compile(r"(?:^|/)nodes-CellList/(\d+)-")


def node_index_of_scope(full_name: str) -> int | None:
    """'Default/nodes-CellList/3-Conv2dBnAct/conv-Conv2d/Conv2D-op12' -> 3 (the CellList index,
    which is the node's position in `SpecNet.nodes`, i.e. in the graph's node order)."""
    m = _SCOPE_NODE.search(full_name)
    return int(m.group(1)) if m else None


def kernel_short_name(full_name: str) -> str:
    """The part of a kernel's scope name below its node: 'conv-Conv2d/Conv2D-op12'."""
    m = _SCOPE_NODE.search(full_name)
    if not m:
        return full_name
    rest = full_name[m.end():]
    return rest.split("/", 1)[1] if "/" in rest else rest


def parse_profiler_output(run_dir: str | Path, steps: int, node_names: list[str],
                          node_kinds: list[str]) -> dict[str, Any] | None:
    """Per-kernel times from one profiler run folder (`*_ascend_ms`); None when it has none.

    Reads `ASCEND_PROFILER_OUTPUT/kernel_details.csv` (device kernels, Ascend/GPU: columns
    Name, Type, Duration(us)) when present, else `FRAMEWORK/cpu_op_detail_info_*.csv` (CPU kernels:
    full_op_name, op_type, op_occurrences, op_total_time(ms)). Times are per profiled step.
    """
    run_dir = Path(run_dir)
    rows: dict[str, dict[str, Any]] = {}
    source = ""
    kd = sorted(run_dir.rglob("kernel_details*.csv"))
    if kd:
        source = "kernel_details.csv"
        for path in kd:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.DictReader(f):
                    name = (row.get("Name") or "").strip()
                    try:
                        dur_ms = float(row.get("Duration(us)") or 0) / 1000.0
                    except ValueError:
                        continue
                    r = rows.setdefault(name, {"type": (row.get("Type") or "").strip(), "calls": 0, "total_ms": 0.0})
                    r["calls"] += 1
                    r["total_ms"] += dur_ms
    else:
        files = sorted(run_dir.rglob("cpu_op_detail_info_*.csv"))
        source = "cpu_op_detail_info.csv"
        for path in files:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.DictReader(f):
                    name = (row.get("full_op_name") or row.get("op_name") or "").strip()
                    try:
                        total = float(row.get("op_total_time(ms)") or 0)
                        calls = int(float(row.get("op_occurrences") or 0))
                    except ValueError:
                        continue
                    r = rows.setdefault(name, {"type": (row.get("op_type") or "").strip(), "calls": 0, "total_ms": 0.0})
                    r["calls"] += calls
                    r["total_ms"] += total
    rows = {k: v for k, v in rows.items() if k}
    if not rows:
        return None
    steps = max(1, steps)
    total = sum(r["total_ms"] for r in rows.values()) / steps
    kernels = []
    for name, r in rows.items():
        i = node_index_of_scope(name)
        node = node_names[i] if i is not None and 0 <= i < len(node_names) else None
        ms = r["total_ms"] / steps
        kernels.append({"kernel": name, "short": kernel_short_name(name), "type": r["type"], "node": node,
                        "node_index": i if node is not None else None,
                        "node_kind": node_kinds[i] if node is not None else None,
                        "calls_per_step": r["calls"] / steps, "ms_per_step": ms,
                        "share": ms / total if total > 0 else 0.0})
    kernels.sort(key=lambda k: -k["ms_per_step"])
    return {"source": f"MindSpore profiler ({source})", "method": "profiler", "steps": steps,
            "total_ms_per_step": total, "kernels": kernels, "by_type": _group(kernels, "type"),
            "by_node": _group([k for k in kernels if k["node"]], "node"),
            "traced_to_nodes": sum(k["ms_per_step"] for k in kernels if k["node"]) / total if total > 0 else 0.0}


def _group(kernels: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    total = sum(k["ms_per_step"] for k in kernels) or 1.0
    groups: dict[str, dict[str, Any]] = {}
    for k in kernels:
        g = groups.setdefault(k[key], {key: k[key], "kernels": 0, "ms_per_step": 0.0})
        if key == "node":
            g["node_kind"] = k["node_kind"]
        g["kernels"] += 1
        g["ms_per_step"] += k["ms_per_step"]
    out = sorted(groups.values(), key=lambda g: -g["ms_per_step"])
    for g in out:
        g["share"] = g["ms_per_step"] / total
    return out


def write_node_trace(run_dir: str | Path, node_names: list[str]) -> Path | None:
    """`archspec_trace.json` beside the profiler's `trace_view.json`: the same Chrome trace events with
    numeric `ts`/`dur` (MindSpore writes them as strings, which not every viewer accepts) and each
    kernel's spec node in its `args` and name (`stem: Conv2D-op0`). None when there is no trace."""
    run_dir = Path(run_dir)
    src = next(iter(sorted(run_dir.rglob("trace_view.json"))), None)
    if src is None:
        return None
    try:
        events = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(events, dict):
        events = events.get("traceEvents", [])
    for ev in events:
        if not isinstance(ev, dict):
            continue
        for k in ("ts", "dur"):
            if isinstance(ev.get(k), str):
                try:
                    ev[k] = float(ev[k])
                except ValueError:
                    pass
        name = ev.get("name")
        if ev.get("ph") == "X" and isinstance(name, str):
            i = node_index_of_scope(name)
            if i is not None and 0 <= i < len(node_names):
                ev.setdefault("args", {})["spec_node"] = node_names[i]
                ev.setdefault("args", {})["scope"] = name
                ev["name"] = f"{node_names[i]}: {name.rsplit('/', 1)[-1]}"
    dst = src.parent / "archspec_trace.json"
    dst.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}), encoding="utf-8")
    return dst


def trace_files(run_dir: str | Path) -> list[str]:
    """The files of a profiler run worth opening, as paths."""
    run_dir = Path(run_dir)
    wanted = ("archspec_trace.json", "trace_view.json", "kernel_details.csv", "op_statistic.csv", "cpu_op_detail_info_*.csv",
              "cpu_op_type_info_*.csv")
    found: list[str] = []
    for pattern in wanted:
        found += [str(p) for p in sorted(run_dir.rglob(pattern))]
    return found


def summarize_times(times_s: list[float]) -> dict[str, float]:
    """Median, p10, p90, min, mean in ms (linear-interpolated percentiles)."""
    ms = sorted(t * 1000.0 for t in times_s)

    def pct(p: float) -> float:
        if len(ms) == 1:
            return ms[0]
        k = (len(ms) - 1) * p
        lo = int(k)
        hi = min(lo + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (k - lo)

    return {"median_ms": statistics.median(ms), "p10_ms": pct(0.10), "p90_ms": pct(0.90), "min_ms": ms[0],
            "mean_ms": statistics.fmean(ms)}
