"""How large are folding's and each runtime's float32 differences? The measurements behind
`archspec.runtime.export.FOLD_RTOL` and `FILE_RTOL`.

    python benchmarks/export_tolerance.py specs/deeplabv3p.yaml [--set size=513] [--formats mindir,onnx]

For each BatchNorm regime, the spec's net is exported the way `archspec export` does it (BN folded,
lowered for the format) and the two verification numbers are printed, as fractions of the output's
largest magnitude: the folded in-memory model against the model as built ("folding"), and the
written file against the folded in-memory model ("file").

BatchNorm regimes:
  random      gamma, var ~ U(0.5, 1.5); beta, mean ~ N(0, 0.1) (what `archspec profile` draws)
  calibrated  gamma ~ U(0.1, 1.5), beta ~ N(0, 0.1); mean and var set, node by node, to the
              statistics of the conv's own output on a standard-normal input, as training leaves
              them: the fold scales gamma / sqrt(var + eps) are then as large as a trained net's
              (small variances deep in the net), which is what makes folding's rounding grow.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def calibrate(net, x, rng) -> None:
    """Set every BatchNorm's moving statistics to the batch statistics of its conv's output."""
    import numpy as np
    from mindspore import Tensor

    graph = net.spec_graph
    values = [x]
    for i, node in enumerate(graph.nodes):
        cell = net.nodes[i]
        args = [values[v] for v in net.node_inputs[i]]
        bn = getattr(cell, "batchnorm", None)
        if bn is not None:
            y = cell.conv(*args).asnumpy().astype(np.float64)
            c = y.shape[1]
            bn.gamma.set_data(Tensor(rng.uniform(0.1, 1.5, c).astype(np.float32)))
            bn.beta.set_data(Tensor(rng.normal(0.0, 0.1, c).astype(np.float32)))
            bn.moving_mean.set_data(Tensor(y.mean(axis=(0, 2, 3)).astype(np.float32)))
            bn.moving_variance.set_data(Tensor(y.var(axis=(0, 2, 3)).astype(np.float32)))
        values.append(cell(*args))


def randomize(net, rng) -> None:
    import numpy as np
    from mindspore import Tensor

    for p in net.get_parameters():
        leaf = p.name.rsplit(".", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            p.set_data(Tensor(rng.uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32)))
        elif leaf in ("beta", "moving_mean"):
            p.set_data(Tensor(rng.normal(0.0, 0.1, tuple(p.shape)).astype(np.float32)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--formats", default="mindir,onnx")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import numpy as np

    import archspec
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    import mindspore

    from archspec.lower import build_cell
    from archspec.runtime.export import FILE_RTOL, FOLD_RTOL, export

    overrides = dict(kv.split("=", 1) for kv in a.set)
    graph = archspec.resolve(archspec.load(a.spec, overrides=overrides))
    print(f"{graph.name}: input {list(next(iter(graph.inputs.values())))}; tolerances: folding {FOLD_RTOL:g}, "
          f"file {', '.join(f'{k} {v:g}' for k, v in FILE_RTOL.items())} (of the output scale)")
    print("| BN statistics | format | output scale | folding (rel.) | file (rel.) |")
    print("|---|---|---:|---:|---:|")
    for regime in ("random", "calibrated"):
        mindspore.set_seed(a.seed)
        net = build_cell(graph)
        rng = np.random.default_rng(a.seed + 1)
        if regime == "random":
            randomize(net, rng)
        else:
            x = np.random.default_rng(a.seed + 2).standard_normal(next(iter(graph.inputs.values())))
            calibrate(net, mindspore.Tensor(x.astype(np.float32)), rng)
        for fmt in a.formats.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                r = export(graph, net, fmt, Path(tmp) / "m", seed=a.seed)
            model = [c for c in r.checks if c.kind == "model"]
            files = [c for c in r.checks if c.kind == "file"]
            scale = model[0].scale
            fold_rel = max(c.max_abs_diff / c.scale for c in model)
            file_rel = max(c.max_abs_diff / c.scale for c in files) if files else float("nan")
            print(f"| {regime} | {fmt} | {scale:.3g} | {fold_rel:.1e} | {file_rel:.1e} |")


if __name__ == "__main__":
    main()
