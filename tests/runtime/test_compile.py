"""`archspec compile` and archspec.runtime.compile: GRAPH_MODE compile, timings, kernel counts,
IR dumps that stay out of the current folder, and clean messages for bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.runtime.compile import read_graph_nodes, read_kernels

ROOT = Path(__file__).resolve().parents[2]
MOBILENET = str(ROOT / "specs" / "mobilenetv2.yaml")

TINY_SPEC = """\
archspec: 1
name: tiny
input: {image: [1, 3, 16, 16]}
graph:
  - {id: stem, op: conv, out: 8, k: 3, bn: true, act: relu}
  - {id: c1, op: conv, out: 8, k: 3, bn: true, act: relu}
  - {id: add, op: add, in: [c1, stem]}
  - {id: head, op: conv, out: 4, k: 1}
"""


def archspec_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "spec" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(TINY_SPEC)
    return path


@pytest.fixture(scope="module")
def mobilenet_report(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cwd")
    r = archspec_cli("compile", MOBILENET, "--set", "size=64", "--runs", "2", "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout), cwd


def test_json_report_fields(mobilenet_report):
    report, _ = mobilenet_report
    assert report["name"] == "mobilenetv2" and report["device"] == "CPU" and report["mode"] == "graph"
    assert report["jit_level"] == "O0"
    assert report["inputs"] == {"image": [1, 3, 64, 64]} and report["outputs"] == {"fc": [1, 1000]}
    t = report["timings_s"]
    assert set(t) >= {"load", "resolve", "setup_mindspore", "lower", "compile", "first_run", "steady_run"}
    assert all(v >= 0 for v in t.values()) and t["compile"] > 0
    assert report["steady_runs"] == 2
    assert report["ir"] is None  # nothing kept without --dump-ir
    assert report["cpu_isa"]


def test_kernel_counts_match_the_spec_graph(mobilenet_report):
    report, _ = mobilenet_report
    graph = archspec.resolve(archspec.load(MOBILENET, overrides={"size": 64}))
    convs = [n for n in graph.nodes if n.op == "conv"]
    with_bn = [n for n in convs if "bn" in n.kind.split("+")]
    relu6 = [n for n in convs if n.kind.endswith("relu6")]
    kernels = report["kernels"]
    assert report["spec_conv_nodes"] == len(convs) == 52
    assert kernels["Conv2D"] == len(convs)  # one kernel per conv node, nothing split or dropped
    assert kernels["BatchNorm"] == len(with_bn)  # MindSpore does not fold BN on CPU (fold_bn is ours)
    assert kernels["ReLU6"] == len(relu6)
    assert kernels["AddN"] == sum(1 for n in graph.nodes if n.op == "add")
    assert kernels["MatMul"] == 1  # the classifier
    assert report["kernels_total"] == sum(kernels.values())
    # the final graph holds every kernel plus bookkeeping nodes (parameter loads, tuple plumbing)
    nodes = report["graph_nodes"]
    assert all(nodes[k] == v for k, v in kernels.items())
    assert nodes["Load"] >= len(convs) and report["graph_nodes_total"] > report["kernels_total"]


def test_both_lowerings_side_by_side(mobilenet_report):
    """The separate-cells lowering (nn.Conv2d + nn.BatchNorm2d + activation) is compiled beside the
    product's nn.Conv2dBnAct: on CPU MindSpore 2.10 fuses nothing, so both launch the same kernels."""
    report, _ = mobilenet_report
    fused, separate = report["lowerings"]["fused"], report["lowerings"]["separate"]
    assert fused["kernels"] == report["kernels"] and fused["compile_s"] == report["timings_s"]["compile"]
    assert separate["kernels"] == report["kernels"] and separate["kernels_total"] == report["kernels_total"]
    assert separate["compile_s"] > 0 and separate["steady_run_s"] > 0
    assert report["backend_fused"] == 0
    assert report["kernels_by_lowering"]["Conv2D"] == {"fused": 52, "separate": 52}
    assert list(report["kernels_by_lowering"]) == list(report["kernels"])


def test_compile_leaves_the_current_folder_alone(mobilenet_report):
    _, cwd = mobilenet_report
    assert list(cwd.iterdir()) == []


def test_table_output_and_jit_level_o1(tiny, tmp_path):
    r = archspec_cli("compile", str(tiny), "--jit-level", "o1", "--runs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "jit level O1" in r.stdout
    assert "Conv2D" in r.stdout and "kernels" in r.stdout and "graph nodes" in r.stdout
    assert "compile:" in r.stdout and "steady-state run:" in r.stdout
    assert "separate" in r.stdout and "separate cells: compile" in r.stdout
    assert "the backend fused nothing" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec"]


def test_dump_ir_keeps_files_in_dir_and_nothing_in_cwd(tiny, tmp_path):
    cwd = tmp_path / "work"
    cwd.mkdir()
    ir = tmp_path / "ir" / "tiny"  # created when missing
    r = archspec_cli("compile", str(tiny), "--dump-ir", str(ir), "--runs", "1", "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert list(cwd.iterdir()) == []
    info = report["ir"]
    assert info["dir"] == str(ir.resolve())
    files = [p for p in ir.rglob("*") if p.is_file()]
    assert info["files"] == len(files) > 20  # every pass, not just the final graphs
    final = ir / info["final_graph"]
    assert final.name.startswith("graph_build_") and final.is_file()
    kernel_list = ir / info["kernel_list"]
    assert kernel_list.is_file()
    assert (ir / "00_bootstrap_0000.ir").is_file()
    # the report's counts are what those files say
    assert dict(read_kernels(kernel_list)) == report["kernels"] == {"Conv2D": 3, "BatchNorm": 2, "ReLU": 2,
                                                                     "AddN": 1, "BiasAdd": 1}
    assert dict(read_graph_nodes(final)) == report["graph_nodes"]


def test_dump_ir_human_output_names_the_files(tiny, tmp_path):
    ir = tmp_path / "ir"
    r = archspec_cli("compile", str(tiny), "--dump-ir", str(ir), "--runs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"in {ir.resolve()}" in r.stdout
    assert "final kernel graph: graph_build_" in r.stdout
    assert "kernels in launch order: actor_set/final_actor_set_kernel_graph_" in r.stdout


def _absent_device() -> str:
    from archspec.runtime.host import available_devices

    for d in ("GPU", "Ascend"):
        if d not in available_devices():
            return d
    pytest.skip("every device is present here")


@pytest.mark.parametrize("args, needle", [
    (["--jit-level", "O3"], "Invalid value for '--jit-level'"),
    (["--jit-level", "O2"], "jit level O2 (whole-graph sink) runs only on Ascend, not on CPU"),
    (["--device", "TPU"], "Invalid value for '--device'"),
    (["--device", "ABSENT"], "is not available here (available: CPU"),
    (["--dump-ir", "FILE"], "exists and is not a folder"),
    (["--dump-ir", "FILE/sub"], "--dump-ir: cannot create folder"),
    (["--input-shape", "1,3,0,16"], "positive integers"),
    (["--set", "nope=1"], "nope"),
])
def test_bad_input_is_one_clean_message(tiny, tmp_path, args, needle):
    cwd = tmp_path / "work"
    cwd.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    args = [a.replace("FILE", str(afile)) for a in args]
    if "ABSENT" in args:
        args[args.index("ABSENT")] = _absent_device()
    r = archspec_cli("compile", str(tiny), *args, cwd=cwd)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert list(cwd.iterdir()) == []


# ----------------------------------------------------------------------------- the Python API


def test_api_compile_in_process_restores_mode_and_rejects_a_second_level():
    """In-process (this pytest process may already have run MindSpore): times are measured; node
    counts need IR capture prepared before MindSpore starts, else a note says how."""
    from archspec.runtime.host import setup

    setup("CPU", "pynative")  # tolerates a process that already runs on CPU
    import mindspore as ms
    import numpy as np

    from archspec.errors import SpecError
    from archspec.runtime.compile import compile as compile_net, ir_capture_mode

    graph = archspec.resolve(archspec.load(_write_tiny()))
    net = archspec.build(graph).net
    x = ms.Tensor(np.ones((1, 3, 16, 16), np.float32))
    report = compile_net(net, [x], "O0", runs=2)
    assert ms.get_context("mode") == ms.PYNATIVE_MODE  # the caller's mode, restored
    assert report.jit_level == "O0" and report.compile_s > 0 and report.first_run_s > 0 and report.runs == 2
    if ir_capture_mode() is None:
        assert report.kernels is None and any("prepare_ir_capture" in n for n in report.notes)
    with pytest.raises(ValueError, match="already has jit level O0"):
        compile_net(net, [x], "O1")
    with pytest.raises(SpecError, match="only on Ascend"):
        compile_net(archspec.build(graph).net, [x], "O2")


def _write_tiny() -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="archspec-test-"))
    path = folder / "tiny.yaml"
    path.write_text(TINY_SPEC)
    return path


def test_read_ir_files(tmp_path):
    actors = tmp_path / "final_actor_set_kernel_graph_0.ir"
    actors.write_text(
        "%0 = kernel_graph_0_DataPrepareActor() op control(%kernel_graph_0_LoopCountActor)\n"
        "%1 = 1_FusionActor() op control(%0)\n"
        "%3 = kernel_graph0:Conv2D-op0(%2[0], %param_stem.conv.weight)\n"
        "\t# AID : 0_Default/nodes-CellList/0-Conv2dBnAct/conv-Conv2d/Conv2D-op0\n"
        "%4 = kernel_graph0:BatchNorm-op0(%3[0], %param_stem.batchnorm.gamma)\n"
        "%5 = kernel_graph0:Conv2D-op1(%4[0], %param_c1.conv.weight)\n")
    assert read_kernels(actors) == {"Conv2D": 2, "BatchNorm": 1}
    graph = tmp_path / "graph_build_0_0094.ir"
    graph.write_text(
        "# IR entry: @kernel_graph0\n"
        "%para1_fc.bias: <Ref[Tensor[Float32]], (1000)>\n"
        "subgraph @kernel_graph0() {\n"
        "  %0(CNode_4993) = Load(%para210_stem.conv.weight, UMonad[U]) cnode_attrs: {}\n"
        "  %1(output) = Conv2D(%para263_x0, %0) {instance name: conv2d}\n"
        "  %2(CNode_4998) = PrimFunc_BatchNorm(%1, %2) {instance name: bn_infer}\n"
        "      : (<Tensor[Float32], (1, 32, 32, 32)>) -> (<Tensor[Float32]>)\n"
        "  Return(%2)\n"
        "}\n")
    assert read_graph_nodes(graph) == {"Load": 1, "Conv2D": 1, "BatchNorm": 1}
