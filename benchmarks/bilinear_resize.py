"""Bilinear upsampling at DeepLabV3+ sizes: ResizeBilinearV2 (the default lowering) against two
MatMuls with constant interpolation matrices (the `matmul` lowering that exports to ONNX).

    python benchmarks/bilinear_resize.py [--mode graph|pynative] [--repeat 50]

Prints the median and minimum time per call of each lowering, and the whole DeepLabV3+ forward
pass (513x513) with each, on the CPU (after the oneDNN ISA fix). Results: docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import statistics
import time


def timed(fn, repeat: int) -> tuple[float, float]:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="graph", choices=["graph", "pynative"])
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--model-repeat", type=int, default=5, help="repeats of the whole DeepLabV3+ pass (0: skip)")
    args = ap.parse_args()

    from archspec.runtime.host import setup

    rt = setup("CPU", args.mode)
    import numpy as np
    from mindspore import Tensor

    from archspec.ops.cells import BilinearMatMul, Resize

    print(f"mode {args.mode}, CPU ISA: {rt.isa}")
    rng = np.random.default_rng(0)
    for c, i, o in [(256, 33, 129), (21, 129, 513)]:
        x = Tensor(rng.standard_normal((1, c, i, i)).astype(np.float32))
        for name, cell in [("ResizeBilinearV2", Resize((o, o), "bilinear", False)),
                           ("MatMul x2", BilinearMatMul((i, i), (o, o), False))]:
            med, low = timed(lambda: cell(x).asnumpy(), args.repeat)
            print(f"{c:4d} ch {i:3d} -> {o:3d}  {name:17s} median {med * 1e3:7.2f} ms   min {low * 1e3:7.2f} ms")
    if args.model_repeat:
        import archspec
        from archspec.lower import build_cell

        graph = archspec.resolve(archspec.load("specs/deeplabv3p.yaml"))
        x = Tensor(rng.standard_normal(graph.inputs["image"]).astype(np.float32))
        nets = {b: build_cell(graph, options={"upsample.bilinear": b}) for b in ("resize", "matmul")}
        times = {b: [] for b in nets}
        for b, net in nets.items():
            net(x).asnumpy()  # compile / warm up
        for _ in range(args.model_repeat):  # alternate, so load on a shared machine hits both alike
            for b, net in nets.items():
                t0 = time.perf_counter()
                net(x).asnumpy()
                times[b].append(time.perf_counter() - t0)
        for b, ts in times.items():
            print(f"DeepLabV3+ R50 513x513, upsample.bilinear={b:6s} median {statistics.median(ts):6.2f} s   "
                  f"min {min(ts):6.2f} s")

if __name__ == "__main__":
    main()
