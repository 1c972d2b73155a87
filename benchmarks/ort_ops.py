"""Where the time goes: MindSpore GRAPH (BN folded) against ONNX Runtime, kernel time by kind of op.

    python benchmarks/ort_ops.py [SPEC] [--set k=v] [--runs 10]

1. `archspec profile SPEC --modes graph-fold --ops --json` (MindSpore's profiler; every kernel traced to
   its spec node), 2. `archspec export SPEC --format onnx` and ONNX Runtime's own profiler
   (`SessionOptions.enable_profiling`, 2 intra-op threads, the runs after 3 warm-up runs). Kernels are
   grouped by what they compute: convolutions by kind (read from the spec node, or from the ONNX
   weight's shape and group count), bias adds, activations, upsampling, the rest by op type. ONNX
   Runtime fuses bias, activation and residual add into its convolutions (FusedConv), so its conv rows
   include them. Prints a markdown table: GFLOP (2 x MACs of the graph), ms per forward pass, GFLOP/s.
"""
from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def conv_kind(cin: int, groups: int, k: int, out_hw: int) -> str:
    if groups > 1:
        return "depthwise 3x3 convs"
    if k == 1:
        return "1x1 convs"
    if cin == 3:
        return "stem 3x3 conv"
    return "3x3 convs at 129x129 (decoder)" if out_hw >= 129 else "3x3 atrous convs at 33x33 (ASPP)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", nargs="?", default="specs/deeplabv3p_mobilenetv2.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import onnxruntime as ort

    from archspec.api import graph_of
    from archspec.cli.options import overrides

    _, graph = graph_of(Path(a.spec), overrides(a.set))
    nodes = {n.name: n for n in graph.nodes}
    sets = [x for s in a.set for x in ("--set", s)]
    work = Path(tempfile.mkdtemp(prefix="archspec-ort-ops-"))

    def kind_of_node(n) -> str:
        k = n.args.k if isinstance(n.args.k, int) else n.args.k[0]
        return conv_kind(n.in_shapes[0][1], n.args.groups, k, n.shape[2])

    flop: collections.Counter = collections.Counter()
    for n in graph.nodes:
        if n.op == "conv":
            flop[kind_of_node(n)] += 2 * n.macs

    # 1. MindSpore GRAPH + folded BN, MindSpore's profiler
    rep = work / "ms.json"
    subprocess.run([sys.executable, "-m", "archspec", "profile", a.spec, *sets, "--modes", "graph-fold", "--ops",
                    "--iters", str(a.runs), "--json", str(rep)], check=True, stdout=subprocess.DEVNULL)
    r = json.loads(rep.read_text())
    ms: collections.Counter = collections.Counter()
    for k in r["ops"]["kernels"]:
        t = k["type"]
        if t == "Conv2D":
            ms[kind_of_node(nodes[k["node"]])] += k["ms_per_step"]
        elif t == "BiasAdd":
            ms["bias add (folded BN)"] += k["ms_per_step"]
        elif t in ("ReLU", "ReLU6"):
            ms["ReLU / ReLU6"] += k["ms_per_step"]
        elif t in ("ResizeBilinearV2", "MatMul"):
            ms["bilinear upsampling"] += k["ms_per_step"]
        else:
            ms[f"other: {t}"] += k["ms_per_step"]

    # 2. ONNX Runtime on archspec's ONNX export, ORT's profiler
    onnx_path = work / "model.onnx"
    subprocess.run([sys.executable, "-m", "archspec", "export", a.spec, *sets, "--format", "onnx", "--out",
                    str(onnx_path)], check=True, stdout=subprocess.DEVNULL)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.enable_profiling = True
    so.profile_file_prefix = str(work / "ort")
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32) for i in sess.get_inputs()}
    for _ in range(3 + a.runs):
        sess.run(None, feeds)
    events = json.loads(Path(sess.end_profiling()).read_text())
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    first, runs = starts[3], len(starts) - 3
    ox: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < first:
            continue
        op, ins, outs = e["args"]["op_name"], e["args"]["input_type_shape"], e["args"]["output_type_shape"]
        if op in ("Conv", "FusedConv"):
            x, w, y = (next(iter(d.values())) for d in (ins[0], ins[1], outs[0]))
            ox[conv_kind(x[1], x[1] // w[1], w[2], y[2])] += e["dur"] / 1e3 / runs
        elif op == "MatMul":
            ox["bilinear upsampling"] += e["dur"] / 1e3 / runs
        else:
            ox[f"other: {op}"] += e["dur"] / 1e3 / runs

    order = ["3x3 convs at 129x129 (decoder)", "3x3 atrous convs at 33x33 (ASPP)", "1x1 convs", "depthwise 3x3 convs",
             "stem 3x3 conv", "bias add (folded BN)", "ReLU / ReLU6", "bilinear upsampling"]
    order += sorted((set(ms) | set(ox)) - set(order))
    rate = lambda f, t: f"{f / 1e9 / (t / 1e3):.0f}" if f and t else "-"  # noqa: E731
    print(f"{graph.name} {' '.join(a.set)}: kernel time per forward pass, {a.runs} profiled runs each")
    print()
    print("| kernels | GFLOP | MindSpore GRAPH+fold ms | GFLOP/s | ONNX Runtime ms | GFLOP/s | difference ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for c in order:
        m, o, f = ms.get(c, 0.0), ox.get(c, 0.0), flop.get(c, 0)
        print(f"| {c} | {f / 1e9:.2f} | {m:.1f} | {rate(f, m)} | {o:.1f} | {rate(f, o)} | {m - o:+.1f} |")
    tm, to = sum(ms.values()), sum(ox.values())
    print(f"| total | {2 * graph.total_macs / 1e9:.2f} | {tm:.1f} | | {to:.1f} | | {tm - to:+.1f} |")


if __name__ == "__main__":
    main()
