"""A tiny segmentation spec for the training tests: compiles in a second or two, trains in
milliseconds per step, and has what the loop must handle (BatchNorm, dropout, bilinear upsampling)."""
from __future__ import annotations


def tiny_seg(name: str = "tinyseg", num_classes: int = 4, dropout: bool = True, bn_param: bool = False,
             labels: str | None = None) -> str:
    """The spec's text; `bn_param`: BatchNorm on or off by a param `bn` (--set bn=false)."""
    params = f"{{num_classes: {num_classes}" + (", bn: true" if bn_param else "") + "}"
    bn = '"${bn}"' if bn_param else "true"
    lines = [
        "archspec: 1", f"name: {name}", f"params: {params}", "input: {image: [1, 3, 32, 32]}",
        f"defaults: {{conv: {{bn: {bn}, act: relu}}}}",
        "graph:",
        "  - {id: c1, op: conv, out: 8, k: 3, stride: 2}",
        "  - {id: c2, op: conv, out: 8, k: 3, dilation: 2}",
    ]
    if dropout:
        lines.append("  - {id: drop, op: dropout, p: 0.2}")
    lines += [
        '  - {id: logits, op: conv, out: "${num_classes}", k: 1, bn: false, act: null}',
        "  - {id: out, op: upsample, mode: bilinear, size_of: image}",
        "outputs: [out]",
        "preprocess: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}",
    ]
    if labels:
        lines.append(f"labels: {labels}")
    return "\n".join(lines) + "\n"
