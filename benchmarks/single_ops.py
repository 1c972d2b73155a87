"""Single convolutions (and one GEMM) of DeepLabV3+ MobileNetV2 at 513x513: MindSpore against the peers.

    python benchmarks/single_ops.py [--runs 20] [--warmup 3] [--threads 2] [--engines ms,ms-nofix,torch,ort]

Each engine runs in a process of its own (oneDNN reads ONEDNN_MAX_CPU_ISA once per process):
  ms        MindSpore 2.10 GRAPH mode, `nn.Conv2d` (pad_mode 'pad', no bias) / `ops.matmul`, with
            archspec's ISA fix (oneDNN capped at AVX2), as archspec runs the network;
  ms-nofix  the same without the cap, for the GEMM only (without the cap a 3x3 convolution takes
            oneDNN's reference kernel: minutes for the decoder conv; see benchmarks/isa_fix.py);
            `--nofix-convs` adds the convolutions anyway;
  torch     PyTorch eager, `F.conv2d` / `torch.matmul`, `torch.set_num_threads(--threads)`, inference_mode;
  ort       ONNX Runtime on a one-node ONNX model (Conv / MatMul) built with onnx.helper,
            --threads intra-op threads.
The MindSpore workers run with DNNL_VERBOSE=1 and report the oneDNN implementation that executed
each problem (one verbose line per execution; its cost is negligible next to these ops), and probe
whether `ops.Conv2D(data_format='NHWC')` runs on CPU. Every worker reports its CPU time over wall
time in the timed loop (about the number of busy threads). Prints markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name, cin, cout, size (H = W), k, dilation, groups
CONVS = [
    ("decoder 3x3 304->256 @129", 304, 256, 129, 3, 1, 1),
    ("ASPP 3x3 rate 6 320->256 @33", 320, 256, 33, 3, 6, 1),
    ("depthwise 3x3 960 @33", 960, 960, 33, 3, 1, 960),
    ("depthwise 3x3 rate 2 960 @33", 960, 960, 33, 3, 2, 960),
    ("1x1 960->160 @33", 960, 160, 33, 1, 1, 1),
]
GEMM = ("MatMul 256x2736 @ 2736x16641", 256, 2736, 16641)  # the decoder conv as im2col GEMM


def conv_macs(cin, cout, size, k, dil, groups) -> int:
    return cout * (cin // groups) * k * k * size * size


def gemm_macs(m, k, n) -> int:
    return m * k * n


# ============================================================================ workers


def timeit(fn, warmup: int, runs: int) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    busy = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3, "busy_threads": busy}


def worker(engine: str, cfg: dict) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    convs = cfg["convs"]
    out: dict = {"convs": [], "gemm": None}
    if engine in ("ms", "ms-nofix"):
        from archspec.runtime.host import setup

        rt = setup("CPU", "graph", isa_fix=engine == "ms")
        import mindspore as ms
        from mindspore import nn, ops

        out["isa"] = rt.isa

        class MM(nn.Cell):
            def construct(self, a, b):
                return ops.matmul(a, b)

        for name, cin, cout, size, k, dil, g in convs:
            x = ms.Tensor(rng.standard_normal((1, cin, size, size)).astype(np.float32))
            p = dil * (k - 1) // 2
            net = nn.Conv2d(cin, cout, k, pad_mode="pad", padding=p, dilation=dil, group=g, has_bias=False)
            net.set_train(False)
            r = timeit(lambda: net(x).asnumpy(), cfg["warmup"], cfg["runs"])
            out["convs"].append({"name": name, **r})
        if cfg["gemm"]:
            name, m, kk, n = cfg["gemm"]
            a = ms.Tensor(rng.standard_normal((m, kk)).astype(np.float32))
            b = ms.Tensor(rng.standard_normal((kk, n)).astype(np.float32))
            mm = MM()
            out["gemm"] = {"name": name, **timeit(lambda: mm(a, b).asnumpy(), cfg["warmup"], cfg["runs"])}
        # Does MindSpore's CPU Conv2D take NHWC (oneDNN's fast AVX-512 layout)?
        try:
            conv = ops.Conv2D(out_channel=8, kernel_size=3, pad_mode="same", data_format="NHWC")
            y = conv(ms.Tensor(np.ones((1, 9, 9, 8), np.float32)), ms.Tensor(np.ones((8, 3, 3, 8), np.float32)))
            y.asnumpy()
            out["nhwc"] = "runs"
        except Exception as e:  # noqa: BLE001
            out["nhwc"] = " ".join(str(e).split())[:240]
    elif engine == "torch":
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(cfg["threads"])
        out["isa"] = torch.backends.cpu.get_cpu_capability()
        with torch.inference_mode():
            for name, cin, cout, size, k, dil, g in convs:
                x = torch.from_numpy(rng.standard_normal((1, cin, size, size)).astype(np.float32))
                w = torch.from_numpy(rng.standard_normal((cout, cin // g, k, k)).astype(np.float32))
                p = dil * (k - 1) // 2
                r = timeit(lambda: F.conv2d(x, w, None, 1, p, dil, g).numpy(), cfg["warmup"], cfg["runs"])
                out["convs"].append({"name": name, **r})
            if cfg["gemm"]:
                name, m, kk, n = cfg["gemm"]
                a = torch.from_numpy(rng.standard_normal((m, kk)).astype(np.float32))
                b = torch.from_numpy(rng.standard_normal((kk, n)).astype(np.float32))
                out["gemm"] = {"name": name, **timeit(lambda: torch.matmul(a, b).numpy(), cfg["warmup"], cfg["runs"])}
    elif engine == "ort":
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        so = ort.SessionOptions()
        so.intra_op_num_threads = cfg["threads"]
        so.inter_op_num_threads = 1
        out["isa"] = f"onnxruntime {ort.__version__}"

        def session(nodes, inputs, outputs, inits):
            g = helper.make_graph(nodes, "g", inputs, outputs, inits)
            model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
            model.ir_version = 8
            onnx.checker.check_model(model)
            return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

        for name, cin, cout, size, k, dil, g in convs:
            x = rng.standard_normal((1, cin, size, size)).astype(np.float32)
            w = rng.standard_normal((cout, cin // g, k, k)).astype(np.float32)
            p = dil * (k - 1) // 2
            node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[k, k], pads=[p, p, p, p],
                                    dilations=[dil, dil], group=g, strides=[1, 1])
            s = session([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, size, size])],
                        [numpy_helper.from_array(w, "w")])
            r = timeit(lambda: s.run(None, {"x": x}), cfg["warmup"], cfg["runs"])
            out["convs"].append({"name": name, **r})
        if cfg["gemm"]:
            name, m, kk, n = cfg["gemm"]
            a = rng.standard_normal((m, kk)).astype(np.float32)
            b = rng.standard_normal((kk, n)).astype(np.float32)
            node = helper.make_node("MatMul", ["a", "b"], ["y"])
            s = session([node], [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, kk]),
                                 helper.make_tensor_value_info("b", TensorProto.FLOAT, [kk, n])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [])
            out["gemm"] = {"name": name, **timeit(lambda: s.run(None, {"a": a, "b": b}), cfg["warmup"], cfg["runs"])}
    return out


def onednn_impls(stdout: str) -> dict[str, set[str]]:
    """oneDNN implementation names by primitive kind and problem, from DNNL_VERBOSE exec lines."""
    found: dict[str, set[str]] = {}
    isa = ""
    for line in stdout.splitlines():
        parts = line.split(",")
        if len(parts) > 4 and parts[0] == "onednn_verbose" and parts[2] == "info" and parts[4].startswith("isa:"):
            isa = ",".join(parts[4:])[4:]
        if len(parts) > 8 and parts[0] == "onednn_verbose" and parts[3] == "exec":
            kind, impl, desc = parts[5], parts[6], parts[-2]
            found.setdefault(f"{kind} {desc}", set()).add(impl)
    if isa:
        found["isa"] = {isa}
    return found


# ============================================================================ parent


def run(engine: str, cfg: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ARCHSPEC_NO_ISA_FIX")}
    env["GLOG_v"] = "3"
    if engine.startswith("ms"):
        env["DNNL_VERBOSE"] = "1"
    r = subprocess.run([sys.executable, __file__, "--worker", engine, json.dumps(cfg)], capture_output=True, text=True,
                       env=env)
    marker = "@@single_ops "
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith(marker)), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"{engine} worker failed ({r.returncode}):\n{r.stderr[-3000:]}")
    res = json.loads(line[len(marker):])
    if engine.startswith("ms"):
        res["onednn"] = {k: sorted(v) for k, v in onednn_impls(r.stdout).items()}
    return res


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        res = worker(sys.argv[2], json.loads(sys.argv[3]))
        sys.stdout.flush()
        print("@@single_ops " + json.dumps(res), flush=True)
        os._exit(0)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="ms,ms-nofix,torch,ort")
    ap.add_argument("--nofix-convs", action="store_true", help="also time the convolutions without the ISA cap (slow)")
    ap.add_argument("--json", default=None, help="write the raw results here")
    a = ap.parse_args()
    engines = [e for e in a.engines.split(",") if e]
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    results = {}
    for e in engines:
        convs = [] if e == "ms-nofix" and not a.nofix_convs else CONVS
        cfg = {"convs": convs, "gemm": GEMM, "runs": a.runs, "warmup": a.warmup, "threads": a.threads}
        t0 = time.perf_counter()
        results[e] = run(e, cfg)
        print(f"{e}: {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)

    def cell(e, i=None):
        r = results.get(e)
        if r is None:
            return "-"
        row = r["gemm"] if i is None else next((c for c in r["convs"] if c["name"] == CONVS[i][0]), None)
        if row is None:
            return "-"
        macs = gemm_macs(*GEMM[1:]) if i is None else conv_macs(*CONVS[i][1:])
        return f"{row['median_ms']:.2f} ms, {2 * macs / 1e9 / (row['median_ms'] / 1e3):.0f} GFLOP/s"

    cols = [e for e in ("ms", "ms-nofix", "torch", "ort") if e in results]
    head = {"ms": "MindSpore GRAPH (AVX2 cap)", "ms-nofix": "MindSpore GRAPH (no cap)", "torch": "PyTorch eager",
            "ort": "ONNX Runtime"}
    print("| op (N=1, fp32) | MFLOP | " + " | ".join(head[c] for c in cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for i, c in enumerate(CONVS):
        print(f"| {c[0]} | {2 * conv_macs(*c[1:]) / 1e6:,.0f} | " + " | ".join(cell(e, i) for e in cols) + " |")
    print(f"| {GEMM[0]} | {2 * gemm_macs(*GEMM[1:]) / 1e6:,.0f} | " + " | ".join(cell(e) for e in cols) + " |")
    print()
    for e in cols:
        r = results[e]
        busy = [c["busy_threads"] for c in r["convs"]] + ([r["gemm"]["busy_threads"]] if r["gemm"] else [])
        print(f"- {head[e]}: {r.get('isa')}; CPU time / wall time in the timed loops {min(busy):.2f}-{max(busy):.2f}")
        if "nhwc" in r:
            print(f"  - ops.Conv2D(data_format='NHWC') on CPU: {r['nhwc']}")
        for k, v in (r.get("onednn") or {}).items():
            print(f"  - oneDNN {k}: {', '.join(v)}")


if __name__ == "__main__":
    main()
