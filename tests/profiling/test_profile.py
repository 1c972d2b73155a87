"""`archspec profile`: every mode in its own process, identical weights and input, per-op breakdown.

No timing assertions: the machine is shared and noisy. Each worker imports MindSpore (a few
seconds), so the end-to-end cases are few and use small inputs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archspec.errors import SpecError
from archspec.profiling import parent, profiler, request

ROOT = Path(__file__).resolve().parents[2]

MODE_FIELDS = {"mode", "label", "pid", "device", "exec_mode", "jit_level", "first_call_ms", "median_ms", "p10_ms",
               "p90_ms", "min_ms", "mean_ms", "images_per_s", "times_ms", "peak_rss_mb", "base_rss_mb",
               "device_peak_mb", "rss_above_base_mb", "speedup_vs_pynative", "max_abs_diff", "rel_diff",
               "reference_mode", "build_s",
               "output_shapes", "gflops_per_s"}

TINY = """\
archspec: 1
name: tiny
input: {image: [1, 3, 24, 24]}
defaults:
  conv: {bn: true, act: relu}
graph:
  - {id: stem, op: conv, out: 8, k: 3, stride: 2}
  - {id: c1, op: conv, out: 8, k: 3}
  - {id: dw, op: conv, out: 8, k: 3, depthwise: true, act: relu6}
  - {id: add, op: add, in: [stem, dw]}
  - {id: up, op: upsample, mode: bilinear, scale: 2}
  - {id: head, op: conv, out: 4, k: 1, bn: false, act: null}
outputs: [head]
"""


def archspec(*args, cwd=ROOT, timeout=900, env_columns=None):
    env = dict(os.environ, COLUMNS=str(env_columns)) if env_columns else None
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)


def profile_json(*args) -> dict:
    """`archspec profile ... --json`: the report printed on stdout."""
    r = archspec("profile", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY, encoding="utf-8")
    return p


# ----------------------------------------------------------------------------- end to end


def test_default_modes_json_table_and_progress(tiny, capsys, monkeypatch):
    """With no --modes: the motivating table's five rows, each in its own process with identical
    weights and input; the JSON report, the table rendered from it in 80 columns, and one plain
    progress line per stage on stderr when piped."""
    r = archspec("profile", str(tiny), "--iters", "2", "--warmup", "1", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    modes = list(request.MODES)
    assert modes == ["pynative", "graph-separate", "graph", "graph-fold", "mindir"]
    assert [m["mode"] for m in report["modes"]] == modes and report["reference_mode"] == "pynative"
    assert report["inputs"] == {"image": [1, 3, 24, 24]} and "random" in report["weights"]
    assert report["mindspore"].startswith("2.")
    for m in report["modes"]:
        assert MODE_FIELDS <= set(m), MODE_FIELDS - set(m)
        assert len(m["times_ms"]) == 2 and m["min_ms"] <= m["p10_ms"] <= m["median_ms"] <= m["p90_ms"]
        assert m["first_call_ms"] > 0 and m["images_per_s"] > 0 and m["peak_rss_mb"] > 0
        assert m["device_peak_mb"] is None  # the CPU backend reports no device memory
        assert m["output_shapes"] == [[1, 4, 24, 24]]
        assert m["rel_diff"] < 1e-4, (m["mode"], m["max_abs_diff"], m["output_max_abs"])
    by = {m["mode"]: m for m in report["modes"]}
    assert by["pynative"]["max_abs_diff"] == 0.0 and by["pynative"]["speedup_vs_pynative"] == pytest.approx(1.0)
    assert by["pynative"]["exec_mode"] == "PYNATIVE" and by["graph"]["exec_mode"] == "GRAPH"
    assert by["graph"]["jit_level"] == "O0"
    # Folding changes the arithmetic (BN statistics are randomized, so the fold is not the identity),
    # yet the output stays within float32 rounding; separate cells compute exactly what nn.Conv2dBnAct does.
    assert by["graph-fold"]["max_abs_diff"] > 0 and by["graph-separate"]["max_abs_diff"] == 0.0
    pids = [m["pid"] for m in report["modes"]]
    assert len(set(pids)) == len(modes) and os.getpid() not in pids
    assert "archspec: prepare" in r.stderr and "archspec: GRAPH, separate" in r.stderr

    from archspec.api.profile import ProfileReport
    from archspec.cli.app import out
    from archspec.cli.profile import print_report

    monkeypatch.setattr(out, "width", 80)
    print_report(ProfileReport(**report))
    shown = capsys.readouterr().out
    rows = [ln for ln in shown.splitlines() if not ln.startswith(" ") and ln.split()[:1] and ln.split()[0] in modes]
    assert [ln.split()[0] for ln in rows] == modes
    header = next(ln for ln in shown.splitlines() if ln.startswith("mode"))
    assert header.split() == ["mode", "first", "median", "p10", "p90", "img/s", "RSS", "MB", "+base", "speed",
                              "diff"]
    assert max(len(ln) for ln in [header, *rows]) <= 80, "\n".join([header, *rows])
    assert "ref" in rows[0]
    for row in rows:  # peak RSS in MB, then its rise above the worker's base (+N)
        cells = row.split()
        assert cells[6].isdigit() and cells[7].startswith(("+", "-")), row
    assert "memory: graph-fold (the deployed form) peaks" in shown


SHIPPED = sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))


@pytest.mark.slow  # the default suite profiles mobilenetv2 in test_three_modes_... and a tiny spec below
@pytest.mark.parametrize("spec", SHIPPED)
def test_every_shipped_spec_profiles(spec):
    """The report for every spec in specs/ (small input: this checks the path, not the speed)."""
    modes = profile_json(f"specs/{spec}", "--input-shape", "1,3,65,65", "--modes", "graph,graph-fold",
                         "--iters", "1", "--warmup", "0")["modes"]
    assert [m["mode"] for m in modes] == ["graph", "graph-fold"]
    assert modes[1]["rel_diff"] < 1e-4 and modes[1]["median_ms"] > 0


def test_ops_breakdown_names_spec_nodes_and_keeps_the_trace(tiny, tmp_path, capsys):
    trace = tmp_path / "trace"
    report = profile_json(str(tiny), "--modes", "graph,mindir", "--iters", "3", "--warmup", "1", "--ops",
                          "--top", "5", "--trace", str(trace))
    # mindir: exported by the prepare worker, reloaded with nn.GraphCell; same numbers as GRAPH.
    mindir = report["modes"][1]
    assert mindir["mode"] == "mindir" and mindir["rel_diff"] < 1e-5
    ops = report["ops"]
    assert ops["profiled_mode"] == "graph"
    names = {"stem", "c1", "dw", "add", "up", "head"}
    from archspec.api.profile import ProfileReport
    from archspec.cli.profile import print_report

    print_report(ProfileReport(**report))  # the table, rendered from the same report
    shown = capsys.readouterr().out
    if ops["method"] == "profiler":
        assert ops["kernels"] and ops["traced_to_nodes"] > 0.9
        assert {k["node"] for k in ops["kernels"]} <= names | {None}
        assert any(k["node"] == "stem" and k["type"] == "Conv2D" for k in ops["kernels"])
        assert abs(sum(k["share"] for k in ops["kernels"]) - 1) < 1e-6
        assert "top 5 kernels by time" in shown and "by op type" in shown
        rows = [ln for ln in shown.splitlines() if ln.startswith("│") and any(f" {n} " in ln for n in names)]
        assert len(rows) >= 5  # top 5 rows, each naming its spec node
        assert any(f.endswith("trace_view.json") for f in ops["trace_files"])
        ours = next(f for f in ops["trace_files"] if f.endswith("archspec_trace.json"))
        events = [e for e in json.loads(Path(ours).read_text())["traceEvents"] if e.get("ph") == "X"]
        assert events and all(isinstance(e["ts"], float) and isinstance(e["dur"], float) for e in events)
        assert any(e["args"].get("spec_node") == "stem" and e["name"].startswith("stem: ") for e in events)
        assert all(Path(f).is_file() and Path(f).is_relative_to(trace) for f in ops["trace_files"])
        assert "trace_view.json" in shown
    else:  # the profiler gave nothing: the labelled replay
        assert "replay" in ops["source"] and {row["node"] for row in ops["by_node"]} == names


@pytest.mark.slow  # the fallback path; the default suite runs the profiler itself
def test_ops_replay_fallback_on_folded_graph(tiny):
    r = archspec("profile", str(tiny), "--modes", "graph-fold", "--iters", "1", "--warmup", "0", "--ops",
                 "--ops-replay", "--top", "3")
    assert r.returncode == 0, r.stderr
    assert "per-op breakdown (graph-fold mode): timed per-node replay in PYNATIVE" in r.stdout
    assert "replay because: asked for with --ops-replay" in r.stdout
    assert "top 3 nodes by time" in r.stdout
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("│")]
    assert len(rows) == 3 and all(any(f" {n} " in ln for n in ("stem", "c1", "dw", "add", "up", "head")) for ln in rows)


def test_absent_device_is_a_clean_error(tiny):
    r = archspec("profile", str(tiny), "--device", "Ascend", "--iters", "1")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "device Ascend is not available here" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize("args, needle", [
    (["--modes", "graph,turbo"], "unknown mode 'turbo'"),
    (["--modes", "grahp"], "did you mean 'graph'"),
    (["--modes", "graph,graph"], "listed twice"),
    (["--modes", ","], "no mode given"),
    (["--iters", "0"], "--iters must be at least 1"),
    (["--warmup", "-1"], "--warmup must be 0 or more"),
    (["--device", "TPU"], "--device"),
    (["--jit-level", "O2"], "runs only on Ascend"),
    (["--jit-level", "O7"], "--jit-level"),
    (["--ops", "--modes", "pynative,mindir"], "neither graph nor graph-fold"),
    (["--trace", "somewhere"], "go with --ops"),
    (["--top", "0", "--ops"], "--top must be at least 1"),
    (["--weights", "missing.ckpt"], "not found"),
])
def test_bad_arguments_fail_before_any_worker(tiny, args, needle):
    r = archspec("profile", str(tiny), *args, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "prepare" not in r.stderr  # nothing was started


def test_spec_mistake_is_positioned(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("k: 3}", "kk: 3}", 1), encoding="utf-8")
    r = archspec("profile", str(bad), "--iters", "1", timeout=60)
    assert r.returncode == 2
    assert f"{bad}:8:" in r.stderr and "'kk'" in r.stderr


def test_a_worker_that_dies_is_named_with_its_stderr(tiny):
    r = archspec("profile", str(tiny), "--timeout", "0.5", "--iters", "1", timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the prepare worker was stopped after the 0.5 s timeout" in r.stderr


def test_worker_crash_names_mode_and_quotes_stderr(tmp_path):
    with pytest.raises(parent.WorkerFailed) as info:
        parent.run_worker({"kind": "no-such-job"}, "graph-fold", tmp_path, lambda *a, **k: None)
    text = str(info.value)
    assert text.startswith("the graph-fold worker exited with status 1")
    assert "last lines of its stderr" in text and "unknown job kind 'no-such-job'" in text


# ----------------------------------------------------------------------------- pieces, no MindSpore


def test_parent_side_never_imports_mindspore():
    code = ("import sys, archspec.cli, archspec.profiling.parent, archspec.api.profile; "
            "assert 'mindspore' not in sys.modules, 'mindspore imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr


def test_check_request_normalizes():
    req = request.ProfileRequest(spec="x.yaml", modes=["Graph", "graph_fold"], device="ascend", jit_level="o2")
    request.check_request(req)
    assert req.modes == ["graph", "graph-fold"] and req.device == "Ascend" and req.jit_level == "O2"
    with pytest.raises(SpecError, match="O2"):
        request.check_request(request.ProfileRequest(spec="x.yaml", jit_level="O2"))
    default = request.ProfileRequest(spec="x.yaml")
    request.check_request(default)
    assert default.jit_level == "O0"
    assert default.modes == ["pynative", "graph-separate", "graph", "graph-fold", "mindir"]
    assert request.parse_modes("all") == default.modes


def test_scope_names_map_to_cell_list_index():
    name = "Default/nodes-CellList/3-Conv2dBnAct/conv-Conv2d/Conv2D-op12"
    assert profiler.node_index_of_scope(name) == 3
    assert profiler.kernel_short_name(name) == "conv-Conv2d/Conv2D-op12"
    assert profiler.node_index_of_scope("Default/network/nodes-CellList/12-Add/AddN-op0") == 12
    assert profiler.node_index_of_scope("Default/Conv2D-op2") is None  # PYNATIVE / GraphCell: no scope


def test_parse_cpu_profiler_csv(tmp_path):
    d = tmp_path / "x_1_2_ascend_ms" / "FRAMEWORK"
    d.mkdir(parents=True)
    (d / "cpu_op_detail_info_0.csv").write_text(textwrap.dedent("""\
        op_side,op_type,op_name,full_op_name,op_occurrences,op_total_time(ms),op_avg_time(ms),total_proportion,subgraph,pid
        Host,Conv2D,Conv2D-op0,Default/nodes-CellList/0-Conv2dBnAct/conv-Conv2d/Conv2D-op0,2,6.0,3.0,0.6,Default,1
        Host,BatchNorm,BatchNorm-op0,Default/nodes-CellList/0-Conv2dBnAct/batchnorm-BatchNorm2d/BatchNorm-op0,2,2.0,1.0,0.2,Default,1
        Host,AddN,AddN-op0,Default/nodes-CellList/1-Add/AddN-op0,2,1.0,0.5,0.1,Default,1
        Host,Cast,Cast-op0,Default/Cast-op0,2,1.0,0.5,0.1,Default,1
        """))
    res = profiler.parse_profiler_output(d.parent, 2, ["stem", "add"], ["conv+bn+relu", "add"])
    assert res["total_ms_per_step"] == pytest.approx(5.0)
    top = res["kernels"][0]
    assert (top["node"], top["type"], top["ms_per_step"], top["calls_per_step"]) == ("stem", "Conv2D", 3.0, 1.0)
    assert top["share"] == pytest.approx(0.6)
    assert res["by_node"][0] == {"node": "stem", "node_kind": "conv+bn+relu", "kernels": 2, "ms_per_step": 4.0,
                                 "share": pytest.approx(4.0 / 4.5)}
    assert next(k for k in res["kernels"] if k["type"] == "Cast")["node"] is None
    assert res["traced_to_nodes"] == pytest.approx(0.9)
    assert profiler.parse_profiler_output(tmp_path / "empty", 1, [], []) is None


def test_parse_ascend_kernel_details(tmp_path):
    d = tmp_path / "h_1_2_ascend_ms" / "ASCEND_PROFILER_OUTPUT"
    d.mkdir(parents=True)
    (d / "kernel_details.csv").write_text(textwrap.dedent("""\
        Step Id,Name,Type,Accelerator Core,Start Time(us),Duration(us),Wait Time(us)
        1,Default/nodes-CellList/2-Conv2dBnAct/conv-Conv2d/Conv2D-op5,Conv2D,AI_CORE,1,300,0
        2,Default/nodes-CellList/2-Conv2dBnAct/conv-Conv2d/Conv2D-op5,Conv2D,AI_CORE,9,100,0
        1,Default/trans_TransData-op1,TransData,AI_CORE,5,200,0
        """))
    res = profiler.parse_profiler_output(d.parent, 2, ["a", "b", "c"], ["conv", "conv", "conv+bn"])
    assert res["source"].endswith("(kernel_details.csv)")
    assert res["kernels"][0]["node"] == "c" and res["kernels"][0]["ms_per_step"] == pytest.approx(0.2)
    assert res["kernels"][1]["node"] is None


def test_gflops_counts_the_batch_once(tmp_path):
    """graph.total_macs already covers the whole batch: GFLOP/s must not multiply by it again."""
    import numpy as np

    from archspec.profiling.parent import _compare

    class G:
        total_macs = 2_000_000_000  # a batch-2 graph's MACs

    out = np.ones((2, 3), np.float32)
    for mode in ("pynative", "graph"):
        np.savez(tmp_path / f"out-{mode}.npz", out)
    results = [{"mode": "pynative", "median_ms": 1000.0, "batch": 2},
               {"mode": "graph", "median_ms": 500.0, "batch": 2}]
    _compare(results, tmp_path, G())
    assert results[0]["gflops_per_s"] == 4.0 and results[1]["gflops_per_s"] == 8.0
    assert results[1]["speedup_vs_pynative"] == 2.0 and results[1]["max_abs_diff"] == 0.0
