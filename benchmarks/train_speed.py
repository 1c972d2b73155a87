"""Training speed and memory: archspec's training step (PYNATIVE and GRAPH) against PyTorch eager
training of the same graph, on this machine, in one run.

    python benchmarks/train_speed.py [specs/deeplabv3p_mobilenetv2.yaml] [--set k=v] [--crop 257] [--batch 4]
        [--steps 10] [--warmup 2] [--engines pynative,graph,torch] [--out docs/BENCHMARKS.md] [--json FILE]

Every engine runs in a process of its own, one after the other, on the same seeded batch (random
images, random labels over the classes with 5% ignored pixels), so data loading is left out: the
numbers are the training step itself. What a step is:

  pynative, graph  archspec's own step (archspec.training.step.build_trainer, as `archspec train`
                   builds it): the spec's net in training mode, cross-entropy with ignore index 255,
                   SGD with momentum 0.9 and weight decay 1e-4 (nn.Momentum), host-drawn dropout
                   masks and the learning rate set before each step, the loss copied to the host
                   after it. GRAPH compiles forward + backward + update into one graph on the first
                   call (not timed; its time is reported as "compile").
  torch            PyTorch eager (torch 2.x CPU) out of the box: the model built from the same
                   resolved graph by benchmarks/torch_from_graph.py, train mode,
                   F.cross_entropy(ignore_index=255), torch.optim.SGD(momentum=0.9, weight_decay=1e-4),
                   zero_grad/backward/step, loss.item(); torch.set_num_threads(--threads).
  torch-1t         the same with one thread: on a shared machine PyTorch's OpenMP threads wait for a
                   core another process holds (a step of the default crop took 30x longer with 2
                   threads than with 1 while another process used one core), so both are measured
                   and the faster one is the comparison.
  torch-avx2       PyTorch eager with oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2), the cap
                   archspec's ISA fix puts on MindSpore: separates what the ISA is worth from what
                   the kernels' memory layout is worth. Not a comparison engine.

--kernels reruns graph, torch and torch-avx2 with DNNL_VERBOSE=1 (fewer steps: the verbose output
slows the step) and adds a table of oneDNN's execution time per step, by primitive, propagation and
convolution kind (3x3 dense, 3x3 depthwise, 1x1, other), with the kernel oneDNN chose. Time outside
oneDNN (MindSpore's own CPU kernels, PyTorch's native BatchNorm) is the step minus that total.

Per engine: --warmup untimed steps, then --steps timed steps; images/s = batch / median step time.
Peak memory is the process's high-water RSS (ru_maxrss: runtime, model, optimizer state and the
step's activations), and "before" the RSS once the model and optimizer exist, before any step.
Prints a markdown table and writes it into --out between `<!-- train-speed:begin -->` and
`<!-- train-speed:end -->` (the rest of the file is kept).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- train-speed:begin -->", "<!-- train-speed:end -->"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batch(cfg: dict, num_classes: int):
    import numpy as np

    rng = np.random.default_rng(0)
    n, s = cfg["batch"], cfg["crop"]
    x = rng.normal(0, 1, (n, 3, s, s)).astype(np.float32)
    y = rng.integers(0, num_classes, (n, s, s)).astype(np.int32)
    y[rng.random((n, s, s)) < 0.05] = 255
    return x, y


def _graph(cfg: dict):
    from archspec.graph import spec_graph
    from archspec.spec.loader import load

    spec = load(cfg["spec"], cfg["sets"], override_source="--set")
    name = next(iter(spec.inputs))
    return spec_graph(spec, {name: (cfg["batch"], 3, cfg["crop"], cfg["crop"])})


def _time_steps(step, cfg: dict) -> dict:
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    for _ in range(cfg["warmup"] - 1):
        step()
    times = []
    for _ in range(cfg["steps"]):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"first_s": first, "median_s": med, "min_s": min(times), "max_s": max(times),
            "images_per_s": cfg["batch"] / med, "peak_mb": _peak_mb()}


def run_mindspore(cfg: dict, mode: str) -> dict:
    from archspec.runtime.host import setup

    setup("CPU", mode, seed=0)
    from mindspore import Tensor

    from archspec.lower import build_cell
    from archspec.training.recipe import load_recipe
    from archspec.training.step import build_trainer

    graph = _graph(cfg)
    recipe = load_recipe("voc_deeplabv3p", {"iterations": 1, "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4})
    trainer = build_trainer(build_cell(graph), graph, recipe, segmentation=True)
    x, y = _batch(cfg, graph.shape_of(graph.outputs[0])[1])
    before = _rss_mb()
    state = {"step": 0}

    def step():
        trainer.set_lr(0.01)
        trainer.set_dropout_masks(0, state["step"])
        state["step"] += 1
        return float(trainer.step(Tensor(x), Tensor(y)).asnumpy())

    out = _time_steps(step, cfg)
    out["before_mb"] = before
    return out


def run_torch(cfg: dict) -> dict:
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from torch_from_graph import TorchGraph

    torch.manual_seed(0)
    torch.set_num_threads(cfg["threads"])
    graph = _graph(cfg)
    model = TorchGraph(graph).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    xn, yn = _batch(cfg, graph.shape_of(graph.outputs[0])[1])
    x, y = torch.from_numpy(xn), torch.from_numpy(yn).long()
    before = _rss_mb()

    def step():
        opt.zero_grad(set_to_none=True)
        out = model(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        loss = F.cross_entropy(out, y, ignore_index=255)
        loss.backward()
        opt.step()
        return loss.item()

    out = _time_steps(step, cfg)
    out["before_mb"] = before
    out["torch"] = torch.__version__
    return out


def worker(engine: str, cfg: dict) -> dict:
    if engine in ("pynative", "graph"):
        return run_mindspore(cfg, engine)
    if engine == "torch":
        return run_torch(cfg)
    if engine == "torch-1t":
        return run_torch({**cfg, "threads": 1})
    if engine == "torch-avx2":
        return run_torch(cfg)  # the parent caps oneDNN in this worker's environment
    raise SystemExit(f"unknown engine {engine!r}")


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def render(cfg: dict, results: dict, command: str) -> str:
    sets = " ".join(f"--set {k}={v}" for k, v in cfg["sets"].items())
    lines = [
        f"Training step of `{cfg['spec']}` {sets}, crop {cfg['crop']}x{cfg['crop']}, batch {cfg['batch']} "
        f"(SGD momentum 0.9, weight decay 1e-4, cross-entropy with ignore index), median of {cfg['steps']} steps "
        f"after {cfg['warmup']} warm-up steps, each engine in its own process.",
        f"Machine: {_machine()}. Command: `{command}`.",
        "",
        "| engine | images/s | median step | min / max step | first step | RSS before | peak RSS | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"pynative": "archspec PYNATIVE", "graph": "archspec GRAPH",
             "torch": f"PyTorch eager, {cfg['threads']} threads", "torch-1t": "PyTorch eager, 1 thread",
             "torch-avx2": f"PyTorch eager, {cfg['threads']} threads, oneDNN capped at AVX2"}
    for engine, r in results.items():
        label = names.get(engine, engine) + (f" ({r['torch']})" if "torch" in r else "")
        lines.append(f"| {label} | {r['images_per_s']:.2f} | {r['median_s'] * 1000:.0f} ms | "
                     f"{r['min_s'] * 1000:.0f} / {r['max_s'] * 1000:.0f} ms | {r['first_s']:.1f} s | "
                     f"{r['before_mb']:.0f} MB | {r['peak_mb']:.0f} MB | {r['load_before']:.2f} |")
    torches = [e for e in ("torch", "torch-1t") if e in results]
    if "graph" in results and torches:
        best = max(torches, key=lambda e: results[e]["images_per_s"])
        ratio = results["graph"]["images_per_s"] / results[best]["images_per_s"]
        met = "met" if ratio >= 1 else "not met"
        lines += ["", f"GRAPH / the faster PyTorch eager ({names[best]}): {ratio:.2f}x (target: at least 1.0x, {met})."]
        for e in torches:
            if e != best:
                lines.append(f"GRAPH / {names[e]}: {results['graph']['images_per_s'] / results[e]['images_per_s']:.2f}x.")
    if "graph" in results and "torch-avx2" in results:
        lines.append(f"GRAPH / {names['torch-avx2']} (same ISA as archspec): "
                     f"{results['graph']['images_per_s'] / results['torch-avx2']['images_per_s']:.2f}x.")
    if "graph" in results and "pynative" in results:
        lines.append(f"GRAPH / PYNATIVE: {results['graph']['images_per_s'] / results['pynative']['images_per_s']:.2f}x.")
    return "\n".join(lines) + "\n"


def _conv_kind(problem: str) -> str:
    m = re.match(r"(?:g(\d+))?mb\d+_ic(\d+)oc(\d+)_.*?kh(\d+)", problem)
    if not m:
        return "other"
    groups, cin, k = m.group(1), m.group(2), m.group(4)
    if groups and groups == cin:
        return f"{k}x{k} depthwise"
    if groups:
        return f"{k}x{k} grouped"
    return f"{k}x{k} dense" if k in ("1", "3") else "other"


def kernel_times(verbose: str, steps: int) -> dict:
    """oneDNN's execution time per step, from DNNL_VERBOSE lines: {(primitive, kind): [ms, kernels]}."""
    out: dict = {}
    for line in verbose.splitlines():
        f = line.split(",")
        if len(f) < 10 or f[:4] != ["onednn_verbose", "v1", "primitive", "exec"]:
            continue
        prim, impl, prop = f[5], f[6], f[7]
        kind = _conv_kind(f[-2]) if prim == "convolution" else ""
        key = (f"{prim} {prop}".replace(" undef", ""), kind)
        ms, impls = out.get(key, (0.0, set()))
        out[key] = (ms + float(f[-1]) / steps, impls | {impl})
    return out


def render_kernels(per_engine: dict, names: dict) -> str:
    engines = list(per_engine)
    keys = sorted({k for t in per_engine.values() for k in t},
                  key=lambda k: -max(t.get(k, (0.0,))[0] for t in per_engine.values()))
    lines = ["", "oneDNN execution time per training step (ms; the kernel oneDNN chose in brackets):", "",
             "| primitive | conv kind | " + " | ".join(names[e] for e in engines) + " |",
             "|---|---|" + "---:|" * len(engines)]
    for key in keys:
        cells = []
        for e in engines:
            ms, impls = per_engine[e].get(key, (0.0, set()))
            cells.append(f"{ms:.0f} ({', '.join(sorted(impls))})" if impls else "-")
        lines.append(f"| {key[0]} | {key[1] or '-'} | " + " | ".join(cells) + " |")
    totals = [sum(ms for ms, _ in per_engine[e].values()) for e in engines]
    lines.append("| **total in oneDNN** | | " + " | ".join(f"**{t:.0f}**" for t in totals) + " |")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, block: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    body = f"{BEGIN}\n{block}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")


def _run_worker(engine: str, cfg: dict, env: dict) -> tuple[str, str] | None:
    """Run one engine in its own process: (its RESULT json, its whole stdout), or None on failure."""
    child = {k: v for k, v in env.items() if k != "ONEDNN_MAX_CPU_ISA"}  # archspec sets its own
    if engine == "torch-avx2":
        child["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    r = subprocess.run([sys.executable, __file__, "--worker", engine, "--config", json.dumps(cfg)],
                       capture_output=True, text=True, env=child, cwd=ROOT)
    found = [line for line in r.stdout.splitlines() if line.startswith("RESULT ")]
    if r.returncode or not found:
        print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
        return None
    return found[-1][len("RESULT "):], r.stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec", nargs="?", default="specs/deeplabv3p_mobilenetv2.yaml")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="K=V")
    p.add_argument("--crop", type=int, default=257)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--engines", default="pynative,graph,torch,torch-1t")
    p.add_argument("--out", type=Path, default=None, help="a markdown file to write the table into")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--kernels", action="store_true", help="add oneDNN's time per primitive (DNNL_VERBOSE runs)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--config", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print("RESULT " + json.dumps(worker(a.worker, json.loads(a.config))), flush=True)
        return 0
    sets = {}
    for item in a.sets:
        k, _, v = item.partition("=")
        sets[k] = v
    cfg = {"spec": a.spec, "sets": sets, "crop": a.crop, "batch": a.batch, "steps": a.steps,
           "warmup": max(1, a.warmup), "threads": a.threads}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    results = {}
    for engine in a.engines.split(","):
        load = os.getloadavg()[0]
        print(f"running {engine} (load average {load:.2f}) ...", file=sys.stderr, flush=True)
        found = _run_worker(engine, cfg, env)
        if found is None:
            return 1
        results[engine] = {**json.loads(found[0]), "load_before": load}
    command = "python benchmarks/train_speed.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    block = render(cfg, results, command.strip())
    if a.kernels:
        short = {**cfg, "steps": 2, "warmup": 1}
        per_engine = {}
        for engine in ("graph", "torch", "torch-avx2"):
            print(f"running {engine} with DNNL_VERBOSE=1 ...", file=sys.stderr, flush=True)
            found = _run_worker(engine, short, {**env, "DNNL_VERBOSE": "1"})
            if found is None:
                return 1
            per_engine[engine] = kernel_times(found[1], short["steps"] + short["warmup"])
        names = {"graph": "archspec GRAPH", "torch": "PyTorch", "torch-avx2": "PyTorch, AVX2 cap"}
        block += render_kernels(per_engine, names)
    print(block)
    if a.json:
        a.json.write_text(json.dumps({"config": cfg, "results": results}, indent=2))
    if a.out:
        write_doc(a.out, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
