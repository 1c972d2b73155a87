"""archspec/MindSpore against PyTorch eager and ONNX Runtime: same spec, same weights, same input.

    python benchmarks/peers.py specs/deeplabv3p_mobilenetv2.yaml [--set k=v] [--input-shape N,C,H,W]
        [--iters 10] [--warmup 2] [--engines pynative,graph,graph-fold,mindir,ms-oob,torch,ort]
        [--out docs/BENCHMARKS.md] [--json FILE]

Needs the `peers` extra (`pip install '.[peers]'`: torch 2.13 CPU, onnx, onnxruntime) for the
`torch` and `ort` engines. Every engine runs in a process of its own (its peak RSS is that
process's high-water mark, its runtime included), one after the other:

  prepare     (MindSpore, PYNATIVE) archspec profile's own prepare step: build the net, draw seeded
              random weights with randomized BatchNorm statistics, save them as a checkpoint (the only
              weights every engine uses), export the MindIR; then one PYNATIVE forward pass on the
              seeded input: the reference output every engine is checked against.
  pynative, graph, graph-fold, mindir
              `archspec profile`'s mode workers (archspec.profiling.parent.run_worker), unchanged: the
              ISA fix on, warm-up calls, timed calls with outputs copied to host.
  ms-oob      MindSpore out of the box: the GRAPH worker without the oneDNN ISA fix
              (ARCHSPEC_NO_ISA_FIX=1); a run takes tens of seconds, so --oob-iters (default 1) timed
              calls after the compiling first call, no warm-up.
  torch       PyTorch eager, the model built from archspec's resolved graph by
              benchmarks/torch_from_graph.py, the checkpoint's tensors copied in by name,
              torch.set_num_threads(--threads), torch.inference_mode().
  ort         ONNX Runtime (CPUExecutionProvider, --threads intra-op threads, sequential, all graph
              optimizations) on archspec's own ONNX export of the same checkpoint (`archspec export
              --format onnx --weights CKPT`: BN folded, bilinear upsampling as two MatMuls).

Each engine's output is compared with the PYNATIVE reference: max abs difference divided by the
reference's largest magnitude. Above 1e-3 the script fails loudly (exit 1) and writes nothing.
Otherwise it prints a markdown table and writes it into --out between `<!-- peers:begin -->` and
`<!-- peers:end -->`, as one block per configuration (spec, --set, input shape): a rerun replaces
its own block and keeps the others and everything outside the markers. `--json FILE` keeps the raw
results; `--render-json FILE [--out DOC]` renders such a file again without measuring anything.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

ENGINES = ("pynative", "graph", "graph-fold", "mindir", "ms-oob", "torch", "ort")
DEFAULT_ENGINES = ",".join(ENGINES)
LABELS = {
    "pynative": "archspec, MindSpore PYNATIVE",
    "graph": "archspec, MindSpore GRAPH",
    "graph-fold": "archspec, MindSpore GRAPH, BN folded",
    "mindir": "archspec, MindIR (GraphCell)",
    "ms-oob": "MindSpore out of the box (GRAPH, no ISA fix)",
    "torch": "PyTorch eager",
    "ort": "ONNX Runtime (archspec's ONNX export)",
}
RUN_ORDER = ("graph-fold", "ort", "torch", "graph", "mindir", "pynative", "ms-oob")  # the key trio back to back
MS_ENGINES = ("pynative", "graph", "graph-fold", "mindir", "ms-oob")
NEEDS = {"torch": ("torch",), "ort": ("onnx", "onnxruntime")}
REL_TOL = 1e-3
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
RUN_BEGIN = "<!-- peers-run:begin {key} -->"
RUN_END = "<!-- peers-run:end {key} -->"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# =============================================================================== workers (child processes)


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed_loop(call, job: dict[str, Any]) -> tuple[list, float, list[float]]:
    """First call, warm-up, timed calls; each call ends with the outputs as host arrays."""
    t = time.perf_counter()
    outs = call()
    first = time.perf_counter() - t
    for _ in range(int(job["warmup"])):
        call()
    times = []
    for _ in range(int(job["iters"])):
        t = time.perf_counter()
        outs = call()
        times.append(time.perf_counter() - t)
    return outs, first, times


def worker_prepare(job: dict[str, Any]) -> dict[str, Any]:
    """archspec profile's prepare step, then the checkpoint as .npz (for torch) and the PYNATIVE reference."""
    from archspec.profiling.worker import load_graph, prepare

    info = prepare(job)  # GRAPH context set; nothing compiled yet
    import mindspore
    import numpy as np

    from archspec.lower import build_cell, run
    from archspec.weights.checkpoint import load_weights, read_checkpoint

    arrays = read_checkpoint(job["ckpt"])
    np.savez(job["weights_npz"], **arrays)
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
    graph = load_graph(job)
    net = build_cell(graph)
    load_weights(net, job["ckpt"])
    with np.load(job["inputs"]) as z:
        xs = [mindspore.Tensor(z[name]) for name in graph.inputs]
    out = run(net, *xs)
    outs = [t.asnumpy() for t in (out if isinstance(out, (tuple, list)) else (out,))]
    np.savez(job["reference"], *outs)
    info["tensors"] = len(arrays)
    return info


def worker_torch(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch

    base_rss = _rss_mb()
    torch.set_num_threads(int(job["threads"]))
    sys.path.insert(0, str(HERE))
    from torch_from_graph import TorchGraph

    from archspec.profiling.worker import load_graph

    graph = load_graph(job)
    t0 = time.perf_counter()
    model = TorchGraph(graph).eval()
    with np.load(job["weights_npz"]) as z:
        n = model.load_archspec_weights({k: z[k] for k in z.files})
    build_s = time.perf_counter() - t0
    with np.load(job["inputs"]) as z:
        xs = [torch.from_numpy(np.ascontiguousarray(z[name])) for name in graph.inputs]

    def call():
        y = model(*xs)
        return [t.numpy() for t in (y if isinstance(y, tuple) else (y,))]

    with torch.inference_mode():
        outs, first, times = _timed_loop(call, job)
    np.savez(job["outputs"], *outs)
    return {"times_ms": [t * 1e3 for t in times], "first_call_ms": first * 1e3, "build_s": build_s,
            "base_rss_mb": base_rss, "peak_rss_mb": _rss_mb(), "tensors": n,
            "threads": torch.get_num_threads(), "version": torch.__version__,
            "detail": f"torch {torch.__version__}, {torch.get_num_threads()} threads, inference_mode, NCHW"}


def worker_ort(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    base_rss = _rss_mb()
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(job["threads"])
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(job["onnx"], so, providers=["CPUExecutionProvider"])
    build_s = time.perf_counter() - t0
    names = [i.name for i in sess.get_inputs()]
    with np.load(job["inputs"]) as z:
        arrays = {k: z[k] for k in z.files}
    order = job["input_names"]
    feeds = ({n: arrays[n] for n in names} if set(names) <= set(arrays)
             else {n: arrays[order[i]] for i, n in enumerate(names)})

    def call():
        return sess.run(None, feeds)

    outs, first, times = _timed_loop(call, job)
    np.savez(job["outputs"], *outs)
    return {"times_ms": [t * 1e3 for t in times], "first_call_ms": first * 1e3, "build_s": build_s,
            "base_rss_mb": base_rss, "peak_rss_mb": _rss_mb(), "version": ort.__version__,
            "detail": f"onnxruntime {ort.__version__}, CPUExecutionProvider, {job['threads']} intra-op threads"}


WORKERS = {"prepare": worker_prepare, "torch": worker_torch, "ort": worker_ort}


def worker_main(kind: str, job_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    result = WORKERS[kind](job)
    tmp = job["result"] + ".tmp"
    Path(tmp).write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, job["result"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown (MindSpore's exit hooks); the result is on disk


# =============================================================================== parent


def missing_peers(engines: list[str]) -> list[str]:
    missing = []
    for e in engines:
        for mod in NEEDS.get(e, ()):
            if importlib.util.find_spec(mod) is None and mod not in missing:
                missing.append(mod)
    return missing


def run_child(kind: str, job: dict[str, Any], work: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    job = dict(job, result=str(work / f"result-{kind}.json"))
    path = work / f"job-{kind}.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    err = work / f"stderr-{kind}.txt"
    with open(err, "w") as ef:
        rc = subprocess.call([sys.executable, str(Path(__file__).resolve()), "--worker", kind, str(path)],
                             stdout=subprocess.DEVNULL, stderr=ef, stdin=subprocess.DEVNULL, env=env or dict(os.environ))
    if rc != 0 or not Path(job["result"]).exists():
        tail = "\n".join(err.read_text(errors="replace").splitlines()[-25:])
        raise SystemExit(f"error: the {kind} worker failed (exit {rc}):\n{tail}")
    return json.loads(Path(job["result"]).read_text(encoding="utf-8"))


def run_ms_mode(mode: str, base: dict[str, Any], work: Path, iters: int, warmup: int, isa_fix: bool) -> dict[str, Any]:
    """One archspec profile mode worker (archspec.profiling.parent.run_worker), unchanged."""
    from archspec.runtime.environ import scoped_environ
    from archspec.profiling.parent import run_worker

    ms_mode = "graph" if mode == "ms-oob" else mode
    job = {**base, "kind": "mode", "mode": ms_mode, "iters": iters, "warmup": warmup, "isa_fix": isa_fix,
           "outputs": str(work / f"out-{mode}.npz"), "ops": None}
    # out of the box: no cap, whatever this shell had
    changes = {} if isa_fix else {"ONEDNN_MAX_CPU_ISA": None, "ARCHSPEC_NO_ISA_FIX": "1"}
    with scoped_environ(changes):
        res = run_worker(job, mode, work, lambda kind, **data: None)
    res["detail"] = f"{res['exec_mode']}, jit level {res.get('jit_level') or '-'}, oneDNN ISA: {res['cpu_isa']}"
    return res


def export_onnx(args, graph, ckpt: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    target = work / "model.onnx"
    cmd = [sys.executable, "-m", "archspec", "export", str(Path(args.spec).resolve()), "--format", "onnx", "--fold-bn",
           "--weights", str(ckpt), "--out", str(target)]
    for s in args.set or []:
        cmd += ["--set", s]
    for name, shape in graph.inputs.items():
        cmd += ["--input-shape", f"{name}={','.join(map(str, shape))}"]
    if args.allow_outside_imports:
        cmd.append("--allow-outside-imports")
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ARCHSPEC_NO_ISA_FIX")}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(work))
    if r.returncode != 0:
        raise SystemExit(f"error: archspec export --format onnx failed (exit {r.returncode}):\n{r.stdout[-2000:]}\n"
                         f"{r.stderr[-3000:]}")
    manifest = json.loads((work / "model.onnx.json").read_text(encoding="utf-8"))
    info = {"export_s": time.perf_counter() - t0, "stdout": r.stdout.strip(), "manifest": manifest}
    return target, info


def bilinear_matmul_macs(graph) -> int:
    """Extra MACs of the ONNX export's MatMul form of bilinear upsampling (not in the graph's count)."""
    extra = 0
    for n in graph.nodes:
        if n.op == "upsample" and n.args.mode == "bilinear":
            N, C, H, W = n.in_shapes[0]
            OH, OW = n.shape[2], n.shape[3]
            extra += N * C * (H * W * OW + OH * H * OW)
    return extra


def summarize(times_ms: list[float]) -> dict[str, float]:
    from archspec.profiling.profiler import summarize_times

    return summarize_times([t / 1e3 for t in times_ms])


def compare(ref: list, got: list) -> tuple[float, float]:
    import numpy as np

    if len(ref) != len(got) or any(a.shape != b.shape for a, b in zip(ref, got)):
        return float("inf"), float("inf")
    scale = max(float(np.max(np.abs(a))) for a in ref)
    diff = max(float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) for a, b in zip(ref, got))
    return diff, diff / scale if scale > 0 else diff


def load_outputs(path: Path) -> list:
    import numpy as np

    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(len(z.files))]


def cpu_busy(seconds: float = 2.0) -> float | None:
    """Busy share of all CPUs over `seconds` from /proc/stat (this script sleeps meanwhile, so it is
    other processes' load); None where /proc/stat does not exist."""
    def sample():
        with open("/proc/stat", encoding="ascii") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle

    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except OSError:
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else None


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for dist in ("mindspore", "torch", "onnxruntime", "onnx", "numpy"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    import archspec

    out["archspec"] = archspec.__version__
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=REPO)
        if rev.returncode == 0:
            changed = [ln[3:] for ln in dirty.stdout.splitlines() if ln.strip()]
            out["git"] = rev.stdout.strip() + (f" + uncommitted changes to {', '.join(changed[:6])}"
                                               + (" ..." if len(changed) > 6 else "") if changed else "")
    except OSError:
        pass
    return out


def machine() -> dict[str, Any]:
    from archspec.runtime.isa import cpu_has_avx512
    from archspec.runtime.isa import machine_info

    m = machine_info()
    m["kernel"] = platform.release()
    m["avx512"] = cpu_has_avx512()
    return m


# ------------------------------------------------------------------------------- markdown


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 1000 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def run_key(name: str, overrides: dict[str, str], inputs: dict[str, Any]) -> str:
    """The block key of one configuration in the doc: spec name, --set values, input shapes."""
    shapes = ";".join(f"{k}={'x'.join(map(str, v))}" for k, v in inputs.items())
    sets = ",".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    return f"{name}|{sets}|{shapes}".replace("-->", "")


def render(report: dict[str, Any]) -> str:
    r = report
    rows = {e["engine"]: e for e in r["engines"]}
    fold = rows.get("graph-fold")
    sets = ", ".join(f"`{k}={v}`" for k, v in r["overrides"].items())
    shapes = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in r["inputs"].items())
    lines = [f"### {r['name']}{' (' + sets + ')' if sets else ''}: {shapes}, {r['macs'] / 1e9:.1f} GMACs", ""]
    lines.append("| engine | median ms | p10 / p90 ms | time vs GRAPH+fold | GFLOP/s | peak RSS MB (after import) "
                 "| first call ms | max diff vs PYNATIVE (rel.) | timed calls |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ENGINES:
        e = rows.get(name)
        if e is None:
            continue
        ratio = f"{e['median_ms'] / fold['median_ms']:.2f}x" if fold else "-"
        rss = f"{e['peak_rss_mb']:.0f} ({e['base_rss_mb']:.0f})" if e.get("base_rss_mb") else f"{e['peak_rss_mb']:.0f}"
        diff = f"{e['max_abs_diff']:.1e} ({e['rel_diff']:.1e})"
        lines.append(f"| {LABELS[name]} | {_ms(e['median_ms'])} | {_ms(e['p10_ms'])} / {_ms(e['p90_ms'])} | {ratio} | "
                     f"{e['gflops_per_s']:.1f} | {rss} | {_ms(e['first_call_ms'])} | {diff} | {e['iters']} |")
    m, v = r["machine"], r["versions"]
    loads = [e["load_before"] for e in r["engines"]]
    lines += [
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores{' (AVX-512)' if m.get('avx512') else ''}, Linux {m['kernel']}. "
        f"1-minute load average {r['load_start']:.2f} before the run"
        + (f" (CPUs {100 * r['busy_start']:.0f}% busy in the 2 s before it started)" if r.get("busy_start") is not None
           else "")
        + f", {min(loads):.2f}-{max(loads):.2f} when each engine started and {r['load_end']:.2f} at the end (these "
        f"include the benchmark's own 2 busy threads, and the previous run's when runs follow each other).",
        "- Software: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"- Weights: {r['weights']}, saved once as a checkpoint that every engine loads (PyTorch by parameter "
        f"name, ONNX Runtime through `archspec export --format onnx --weights`); input: seeded standard normal "
        f"(seed {r['seed']}). Outputs are compared with the PYNATIVE output (largest magnitude "
        f"{r['ref_scale']:.3g}); the run fails above {REL_TOL:g} relative.",
        f"- Timing: median of {r['iters']} timed calls after {r['warmup']} warm-up calls, each call ending with the output "
        f"on the host; first call includes graph compilation (GRAPH modes) or session creation (ONNX Runtime); "
        f"out of the box: {r['oob_iters']} timed call{'s' if r['oob_iters'] != 1 else ''} after the compiling first call. GFLOP/s = 2 x "
        f"{r['macs'] / 1e9:.2f} GMACs (the graph's count, the same for every engine) / median. Peak RSS is the "
        f"engine process's high-water mark, its runtime included; in parentheses after importing the runtime.",
        "- Engines: MindSpore rows are `archspec profile`'s mode workers (one process each, oneDNN capped at AVX2 "
        "by archspec's ISA fix unless 'out of the box'); PyTorch eager is the graph rebuilt by "
        f"`benchmarks/torch_from_graph.py` ({r['threads']} threads, `inference_mode`); ONNX Runtime runs "
        f"archspec's ONNX export ({r['threads']} intra-op threads, BN folded; bilinear upsampling as MatMuls, "
        f"{r['matmul_bilinear_macs'] / 1e9:.3g} GMACs more than the graph's count).",
        f"- Command: `{r['command']}`",
        f"- Date: {r['date']}.",
    ]
    if r.get("note"):  # added by hand to a saved report (--render-json), e.g. what the load figures mean
        lines.append(f"- Note: {r['note']}")
    return "\n".join(lines) + "\n"


SECTION_INTRO = """## Against the peers: PyTorch eager and ONNX Runtime

`python benchmarks/peers.py SPEC [--set k=v] [--iters N] [--warmup K]` (needs the `peers` extra). Same
spec, same weights (one seeded checkpoint with randomized BatchNorm statistics), same input for every
engine; every engine runs in a process of its own. This section is written by the script: one block per
configuration, replaced when that configuration is run again.
"""


def write_doc(path: Path, key: str, block: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = RUN_BEGIN.format(key=key), RUN_END.format(key=key)
    new_run = f"{begin}\n{block}{end}\n"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        inner, tail = rest.split(END, 1)
        runs = re.findall(r"<!-- peers-run:begin (.*?) -->\n.*?<!-- peers-run:end \1 -->\n", inner, flags=re.S)
        blocks = {k: re.search(re.escape(RUN_BEGIN.format(key=k)) + r".*?" + re.escape(RUN_END.format(key=k)) + "\n",
                               inner, flags=re.S).group(0) for k in runs}
        if key in blocks:
            blocks[key] = new_run
        else:
            runs.append(key)
            blocks[key] = new_run
        inner = "\n" + SECTION_INTRO + "\n" + "\n".join(blocks[k] for k in runs)
        text = head + BEGIN + inner + END + tail
    else:
        sep = "" if text.endswith("\n\n") or not text else ("\n" if text.endswith("\n") else "\n\n")
        text = text + sep + BEGIN + "\n" + SECTION_INTRO + "\n" + new_run + END + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", help="the spec to benchmark")
    ap.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a spec param (repeatable)")
    ap.add_argument("--input-shape", action="append", metavar="[NAME=]N,C,H,W", help="override an input shape")
    ap.add_argument("--iters", type=int, default=10, help="timed calls per engine (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls after the first call (default 2)")
    ap.add_argument("--oob-iters", type=int, default=1, help="timed calls of MindSpore out of the box (default 1)")
    ap.add_argument("--engines", default=DEFAULT_ENGINES, help=f"comma-separated, from {DEFAULT_ENGINES}")
    ap.add_argument("--threads", type=int, default=2, help="PyTorch threads and ONNX Runtime intra-op threads (2)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weights and the input")
    ap.add_argument("--out", type=Path, default=None, help="markdown file to write the table into "
                                                           "(e.g. docs/BENCHMARKS.md); default: print only")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results as JSON")
    ap.add_argument("--allow-outside-imports", action="store_true")
    ap.add_argument("--render-json", type=Path, default=None, metavar="FILE",
                    help="measure nothing: render a report saved with --json (into --out, if given)")
    a = ap.parse_args(argv)
    a.engine_list = [e.strip() for e in a.engines.split(",") if e.strip()]
    bad = [e for e in a.engine_list if e not in ENGINES]
    if bad or not a.engine_list:
        ap.error(f"unknown engine(s) {', '.join(bad) or '(none given)'}; engines are {DEFAULT_ENGINES}")
    if a.iters < 1 or a.warmup < 0 or a.oob_iters < 1 or a.threads < 1:
        ap.error("--iters, --oob-iters and --threads must be at least 1, --warmup at least 0")
    return a


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--worker":
        return worker_main(argv[1], argv[2])
    args = parse_args(argv)
    if args.render_json:
        report = json.loads(args.render_json.read_text(encoding="utf-8"))
        block = render(report)
        print(block)
        if args.out:
            write_doc(args.out, run_key(report["name"], report["overrides"], report["inputs"]), block)
        return 0
    missing = missing_peers(args.engine_list)
    if missing:
        sys.exit(f"error: benchmarks/peers.py needs the peers extra for --engines {args.engines}: "
                 f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed.\n"
                 f"  install it with: pip install '.[peers]'   (torch==2.13.0 CPU, onnx, onnxruntime)\n"
                 f"  or leave those engines out: --engines pynative,graph,graph-fold,mindir,ms-oob")

    import numpy as np

    from archspec.api import graph_of
    from archspec.cli.options import input_shapes, overrides as set_options
    from archspec.errors import SpecError, SpecErrors

    try:
        overrides = set_options(args.set)
        _, graph = graph_of(Path(args.spec), overrides, input_shapes(args.input_shape),
                            allow_outside_imports=args.allow_outside_imports)
    except (SpecError, SpecErrors) as e:
        sys.exit(f"error: {e}")
    command = "python " + shlex.join(["benchmarks/peers.py", *argv])
    load_start = os.getloadavg()[0]
    busy_start = cpu_busy()
    log(f"{graph.name}: {', '.join(f'{k} {v}' for k, v in graph.inputs.items())}, {graph.total_macs / 1e9:.2f} GMACs; "
        f"engines {', '.join(args.engine_list)}; load average {load_start:.2f}")
    work = Path(tempfile.mkdtemp(prefix="archspec-peers-"))
    try:
        rng = np.random.default_rng(args.seed)  # as archspec profile draws it
        inputs = {n: rng.standard_normal(tuple(s)).astype(np.float32) for n, s in graph.inputs.items()}
        np.savez(work / "inputs.npz", **inputs)
        base = {"spec": str(Path(args.spec).resolve()), "overrides": overrides,
                "input_shapes": {k: list(v) for k, v in graph.inputs.items()},
                "allow_outside_imports": args.allow_outside_imports, "device": "CPU", "jit_level": "O0",
                "isa_fix": True, "seed": args.seed, "inputs": str(work / "inputs.npz"),
                "ckpt": str(work / "weights.ckpt"),
                "mindir": str(work / "model") if "mindir" in args.engine_list else None}

        log("prepare: weights, checkpoint, MindIR, PYNATIVE reference output")
        prep = run_child("prepare", {**base, "kind": "prepare", "weights": None,
                                     "weights_npz": str(work / "weights.npz"),
                                     "reference": str(work / "reference.npz")}, work)
        ref = load_outputs(work / "reference.npz")
        ref_scale = max(float(np.max(np.abs(a))) for a in ref)
        onnx_info = None
        if "ort" in args.engine_list:
            log("archspec export --format onnx (same checkpoint)")
            onnx_path, onnx_info = export_onnx(args, graph, work / "weights.ckpt", work)
            log(f"  {onnx_info['stdout'].splitlines()[0] if onnx_info['stdout'] else ''} ({onnx_info['export_s']:.0f} s)")

        results: dict[str, dict[str, Any]] = {}
        for eng in [e for e in RUN_ORDER if e in args.engine_list]:
            load = os.getloadavg()[0]
            log(f"{eng}: running (load average {load:.2f})")
            t0 = time.perf_counter()
            if eng in MS_ENGINES:
                oob = eng == "ms-oob"
                res = run_ms_mode(eng, base, work, args.oob_iters if oob else args.iters, 0 if oob else args.warmup,
                                  isa_fix=not oob)
            else:
                job = {**base, "kind": eng, "iters": args.iters, "warmup": args.warmup, "threads": args.threads,
                       "outputs": str(work / f"out-{eng}.npz"), "weights_npz": str(work / "weights.npz"),
                       "input_names": list(graph.inputs)}
                if eng == "ort":
                    job["onnx"] = str(onnx_path)
                env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA",)}
                res = run_child(eng, job, work, env)
            stats = summarize(res["times_ms"])
            diff, rel = compare(ref, load_outputs(work / f"out-{eng}.npz"))
            row = {"engine": eng, "label": LABELS[eng], **stats, "first_call_ms": res["first_call_ms"],
                   "peak_rss_mb": res["peak_rss_mb"], "base_rss_mb": res.get("base_rss_mb"),
                   "times_ms": res["times_ms"], "iters": len(res["times_ms"]),
                   "gflops_per_s": 2 * graph.total_macs / 1e9 / (stats["median_ms"] / 1e3),
                   "max_abs_diff": diff, "rel_diff": rel, "load_before": load, "detail": res.get("detail", ""),
                   "wall_s": time.perf_counter() - t0}
            results[eng] = row
            log(f"  median {row['median_ms']:.1f} ms (p10 {row['p10_ms']:.1f}, p90 {row['p90_ms']:.1f}), "
                f"peak RSS {row['peak_rss_mb']:.0f} MB, diff {diff:.2e} (rel {rel:.1e}); {res.get('detail', '')}")

        report = {
            "spec": args.spec, "name": graph.name, "overrides": overrides,
            "inputs": {k: list(v) for k, v in graph.inputs.items()}, "macs": graph.total_macs,
            "params": graph.total_params, "matmul_bilinear_macs": bilinear_matmul_macs(graph),
            "iters": args.iters, "warmup": args.warmup, "oob_iters": args.oob_iters, "threads": args.threads,
            "seed": args.seed, "weights": f"seeded random (seed {args.seed}) with randomized BatchNorm statistics",
            "ref_scale": ref_scale, "machine": machine(), "versions": versions(),
            "load_start": load_start, "busy_start": busy_start, "load_end": os.getloadavg()[0], "command": command,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "prepare": prep, "onnx": ({k: v for k, v in onnx_info.items() if k != "manifest"} if onnx_info else None),
            "engines": [results[e] for e in ENGINES if e in results],
        }
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    block = render(report)
    print(block)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    bad = [e for e in report["engines"] if not e["rel_diff"] <= REL_TOL]
    if bad:
        for e in bad:
            print(f"error: {e['label']} disagrees with the PYNATIVE output: max abs diff {e['max_abs_diff']:.3g}, "
                  f"{e['rel_diff']:.3g} of the output scale {ref_scale:.3g} (limit {REL_TOL:g}); "
                  f"nothing written", file=sys.stderr)
        return 1
    if args.out:
        write_doc(args.out, run_key(graph.name, overrides, graph.inputs), block)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
