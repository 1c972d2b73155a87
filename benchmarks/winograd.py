"""Time one folded conv (3x3, stride 1, bias, ReLU) in MindSpore GRAPH mode on CPU: MindSpore's own
kernels (`nn.Conv2dBnAct`, what `conv.winograd=off` lowers to) against archspec's NumPy Winograd
kernel (`WinogradConv2d`, `conv.winograd=on`), and check that they agree.

The shapes are the dense 3x3 convs of the shipped specs at 513x513 input: the DeepLabV3+ decoder
at stride 4 and the ResNet stages. The run sets up the CPU the way archspec does (oneDNN ISA cap,
OpenBLAS core) before MindSpore and NumPy load. Both variants run in one process, alternating
rounds, so machine noise hits both alike; the table gives each one's median and the ratio.
`conv.WINOGRAD_MIN_MACS` is set from this table.

    python benchmarks/winograd.py                   # default shapes, 15 rounds
    python benchmarks/winograd.py --rounds 31 --shape 304,256,129
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from archspec.runtime.isa import apply_blas_fix, apply_isa_fix

# (cin, cout, height = width)
DEFAULT_SHAPES = [
    (304, 256, 129),  # DeepLabV3+ decoder, first 3x3 (48 + 256 channels in)
    (256, 256, 129),  # DeepLabV3+ decoder, second 3x3
    (64, 64, 129),  # ResNet layer1 3x3 (stride 4)
    (128, 128, 65),  # ResNet layer2 3x3 (stride 8)
    (256, 256, 33),  # ResNet layer3 3x3 (stride 16)
    (512, 512, 33),  # ResNet-50 layer4.0.conv2 at output stride 16 (dilation 1)
    (256, 256, 65),
    (512, 512, 17),
    (64, 64, 65),
    (32, 32, 129),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", help="cin,cout,size (repeatable)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape] if args.shape else DEFAULT_SHAPES
    isa, blas = apply_isa_fix(), apply_blas_fix()

    import numpy as np
    import mindspore as ms
    from mindspore import nn

    from archspec.ops.cells import WinogradConv2d
    from archspec.runtime.isa import numpy_blas_core
    from archspec.runtime.profile import machine_info

    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    rows = []
    for cin, cout, size in shapes:
        native = nn.Conv2dBnAct(cin, cout, 3, pad_mode="pad", padding=1, has_bias=True, activation="relu")
        wino = WinogradConv2d(cin, cout, "relu", weight_init="he_uniform", bias_init="uniform")
        wino.conv.weight.set_data(native.conv.weight.data)
        wino.conv.bias.set_data(native.conv.bias.data)
        x = ms.Tensor(rng.standard_normal((1, cin, size, size)).astype(np.float32))
        outs = {}
        times: dict[str, list[float]] = {"native": [], "winograd": []}
        cells = {"native": native, "winograd": wino}
        for name, cell in cells.items():
            outs[name] = cell(x).asnumpy()  # compile
            cell(x).asnumpy()
        for _ in range(args.rounds):
            for name, cell in cells.items():
                t = time.perf_counter()
                cell(x).asnumpy()
                times[name].append(time.perf_counter() - t)
        ref = outs["native"]
        rel = float(np.max(np.abs(outs["winograd"] - ref)) / max(float(np.max(np.abs(ref))), 1e-30))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        gmacs = cin * cout * 9 * size * size / 1e9
        rows.append((cin, cout, size, gmacs, med["native"], med["winograd"], med["native"] / med["winograd"], rel))
        print(f"{cin}->{cout} @ {size}: native {med['native']:.1f} ms, winograd {med['winograd']:.1f} ms", file=sys.stderr)

    m = machine_info()
    print(f"Machine: {m['cpu']}, {m['cores']} cores; "
          f"MindSpore {ms.__version__}; NumPy {np.__version__}, OpenBLAS core {numpy_blas_core()}")
    print(f"CPU setup: {isa}; {blas}")
    print(f"Command: python benchmarks/winograd.py {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    print("| conv (3x3, stride 1, bias, ReLU) | GMACs | MindSpore Conv2dBnAct, median ms | archspec Winograd, median ms "
          "| speedup | max rel diff |")
    print("|---|---:|---:|---:|---:|---:|")
    for cin, cout, size, gmacs, nat, win, speed, rel in rows:
        print(f"| {cin}->{cout} at {size}x{size} | {gmacs:.2f} | {nat:.1f} | {win:.1f} | {speed:.2f}x | {rel:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
