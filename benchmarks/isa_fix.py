"""Time one 3x3 convolution through MindSpore (CPU) with and without archspec's oneDNN ISA fix.

Each (shape, fix) runs in a process of its own, because oneDNN reads ONEDNN_MAX_CPU_ISA once per
process. A worker builds `nn.Conv2d(cin, cout, 3, padding=1, no bias)`, runs it `--warmup` times,
then `--runs` times, waiting for each result, and reports the median; DNNL_VERBOSE=1 is on in
the worker so the kernel oneDNN chose is read off its output (one line per execution: its cost
is negligible next to the convolution). Prints a markdown table.

    python benchmarks/isa_fix.py                     # the two default shapes, 3 runs each
    python benchmarks/isa_fix.py --runs 5 --shape 64,64,65

Without the fix, on an AVX-512 CPU, the 304->256 convolution at 129x129 takes minutes per run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# (cin, cout, height = width): the DeepLabV3+ decoder conv at 513x513 input (48 + 256 channels
# at stride 4) and a 3x3 stem conv on a full-size image.
DEFAULT_SHAPES = [(304, 256, 129), (3, 64, 513)]

WORKER = r"""
import json, statistics, sys, time
cin, cout, size, warmup, runs, fix = (int(a) for a in sys.argv[1:7])
from archspec.runtime.isa import apply_isa_fix
said = apply_isa_fix(bool(fix))
import numpy as np
import mindspore as ms
from mindspore import nn
ms.set_device("CPU")
ms.set_context(mode=ms.PYNATIVE_MODE)
net = nn.Conv2d(cin, cout, 3, pad_mode="pad", padding=1, has_bias=False)
x = ms.Tensor(np.random.default_rng(0).standard_normal((1, cin, size, size)).astype(np.float32))
times = []
for i in range(warmup + runs):
    t0 = time.perf_counter()
    net(x).asnumpy()
    if i >= warmup:
        times.append(time.perf_counter() - t0)
print("ISA_BENCH " + json.dumps({"isa_fix": said, "times": times}), flush=True)
"""


def run_one(cin: int, cout: int, size: int, fix: bool, warmup: int, runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ARCHSPEC_NO_ISA_FIX")}
    env.update(DNNL_VERBOSE="1", GLOG_v="3")
    args = [str(v) for v in (cin, cout, size, warmup, runs, int(fix))]
    r = subprocess.run([sys.executable, "-c", WORKER, *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"worker failed ({cin}->{cout} at {size}, fix {fix}):\n{r.stderr[-3000:]}")
    result, impls, isa = None, [], ""
    for line in r.stdout.splitlines():
        if line.startswith("ISA_BENCH "):
            result = json.loads(line[len("ISA_BENCH "):])
        parts = line.split(",")
        if len(parts) > 6 and parts[0] == "onednn_verbose" and parts[3] == "exec" and parts[5] == "convolution":
            impls.append(parts[6])
        if len(parts) > 4 and parts[0] == "onednn_verbose" and parts[2] == "info" and parts[4].startswith("isa:"):
            isa = ",".join(parts[4:])[4:]
    assert result is not None, r.stdout[-2000:]
    result.update(kernel=impls[-1] if impls else "?", onednn_isa=isa, median=statistics.median(result["times"]))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per process (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (oneDNN primitive creation)")
    ap.add_argument("--shape", action="append", metavar="CIN,COUT,SIZE",
                    help="a convolution to time (repeatable); default: 304,256,129 and 3,64,513")
    a = ap.parse_args()
    shapes = [tuple(int(v) for v in s.split(",")) for s in a.shape] if a.shape else DEFAULT_SHAPES

    import mindspore

    from archspec.runtime.isa import cpu_has_avx512
    from archspec.runtime.isa import machine_info

    print(f"CPU: {machine_info()['cpu']} ({os.cpu_count()} logical cores), AVX-512: {'yes' if cpu_has_avx512() else 'no'}; "
          f"MindSpore {mindspore.__version__}; median of {a.runs} runs after {a.warmup} warm-up, "
          f"one process per row; load average at start {os.getloadavg()[0]:.1f}\n")
    print("| 3x3 conv (N=1, fp32) | fix off: kernel | fix off (ms) | fix on: kernel | fix on (ms) | speed-up |")
    print("|---|---|---:|---|---:|---:|")
    for cin, cout, size in shapes:
        t0 = time.perf_counter()
        off = run_one(cin, cout, size, False, a.warmup, a.runs)
        on = run_one(cin, cout, size, True, a.warmup, a.runs)
        print(f"| {cin}->{cout} at {size}x{size} | `{off['kernel']}` | {off['median'] * 1e3:,.1f} | "
              f"`{on['kernel']}` | {on['median'] * 1e3:,.1f} | {off['median'] / on['median']:,.0f}x |", flush=True)
        print(f"  (oneDNN ISA off: {off['onednn_isa']}; on: {on['onednn_isa']}; "
              f"{time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
