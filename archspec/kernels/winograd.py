"""3x3 stride-1 convolution by Winograd F(2x2, 3x3), with bias and ReLU/ReLU6 fused, in NumPy.

Why: MindSpore 2.10 runs a large 3x3 conv on CPU at about 160 GFLOP/s (oneDNN capped at AVX2,
see `archspec.runtime.isa`), and DeepLabV3+'s two decoder convs at stride 4 take most of its
time. Winograd F(2x2, 3x3) (Lavin & Gray, 2016) needs 16 multiplies per 2x2 outputs instead of
36, and its multiplies are 16 GEMMs that NumPy's OpenBLAS runs with AVX-512. Its rounding error
stays within a few float32 ulps of the scale of the pre-activation output, like a direct float32
conv's (the transforms use only 0, +-1 and 0.5).

Layout tricks that keep every NumPy call long and contiguous (2-D slices run NumPy's loops about
3x slower than flat ones here):
- the zero-padded input is split into its four (row, column) parity planes, so the 4x4 input
  tiles (stride 2) become unit-stride slices of those planes;
- the image is cut into bands of tile rows, and each band's planes are stored flat and
  contiguous for all channels, with one plane row more than the band has tile rows and one
  column more than it has tile columns. The neighbour a row or a column away is then the same
  flat array shifted by `r` or 1 elements; the spare row and column compute garbage that is
  never written out;
- bands bound the GEMM operands and the transform buffers (`_BAND_BYTES`); the parity planes of
  the whole input are built once per image. The scratch arrays are kept between calls (fresh
  ones cost page faults), about 90 MB at the DeepLabV3+ decoder's size, for the life of the
  process, as are each layer's transformed filters (`_WeightCache`).

`conv3x3(x, weight, bias, act)` is the whole API: `x` is NCHW float32, padding is 1 on every side.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ACTIVATIONS = (None, "relu", "relu6")

# F(2x2, 3x3) transforms (Lavin & Gray 2016): Y = A^T [(G g G^T) * (B^T d B)] A
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
# kron(G, G): the 16 transformed taps of each 3x3 filter in one GEMM
_GG = np.kron(_G, _G)  # (16, 9)

# The image is processed in bands of tile rows whose GEMM operands (16 transformed planes of the
# input and of the output) fit in this many bytes: 3 bands at the DeepLabV3+ decoder's size,
# measured as fast as one band (benchmarks/winograd.py) with a third of its workspace.
_BAND_BYTES = 64 << 20

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class _Workspace:
    """Scratch arrays kept between calls: fresh large arrays would cost a page fault per 4 KB on
    every call (about a fifth of the kernel's time at decoder sizes). One call runs at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialized float32 array of `shape` (its contents are whatever the last call left)."""
        size = int(np.prod(shape))
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size, np.float32)
        return buf[:size].reshape(shape)


_workspace = _Workspace()


def _reset_after_fork() -> None:
    """A forked child has none of the parent's pool threads (waiting on them would hang) and may
    inherit a lock held by one of them."""
    global _pool, _pool_lock, _workspace
    _pool, _pool_lock, _workspace = None, threading.Lock(), _Workspace()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _threads() -> int:
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not Linux
        return max(1, min(8, os.cpu_count() or 1))


def _parallel(fn, n: int) -> None:
    """fn(lo, hi) over [0, n) in one chunk per core (NumPy releases the GIL in its loops)."""
    global _pool
    workers = _threads()
    if workers == 1 or n < 2 * workers:
        fn(0, n)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="archspec-winograd")
    step = -(-n // workers)
    for f in [_pool.submit(_quiet, fn, lo, min(lo + step, n)) for lo in range(0, n, step)]:
        f.result()


def _quiet(fn, lo: int, hi: int) -> None:
    with np.errstate(invalid="ignore", over="ignore"):  # per thread: see conv3x3
        fn(lo, hi)


def transform_weights(weight: np.ndarray) -> np.ndarray:
    """(K, C, 3, 3) filters -> (16, K, C) Winograd-domain filters, computed in float64."""
    k, c = weight.shape[:2]
    u = weight.reshape(k * c, 9).astype(np.float64) @ _GG.T  # (K*C, 16)
    return np.ascontiguousarray(u.T.reshape(16, k, c), dtype=np.float32)


class _WeightCache:
    """The transformed filters of the last weights seen, per layer: recomputed only when the
    weights change (compared exactly, so weights set in place are never served stale)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._weight: np.ndarray | None = None
        self._u: np.ndarray | None = None

    def get(self, weight: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._weight is None or self._weight.shape != weight.shape or not np.array_equal(self._weight, weight):
                self._u = transform_weights(weight)
                self._weight = np.array(weight, copy=True)
            return self._u


def conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, act: str | None = None,
            u: np.ndarray | None = None) -> np.ndarray:
    """y = act(conv2d(x, weight, stride 1, padding 1) + bias) for NCHW float32 `x`, (K, C, 3, 3)
    `weight`. `u` may pass `transform_weights(weight)` computed earlier."""
    if act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {ACTIVATIONS}, got {act!r}")
    if x.ndim != 4 or weight.ndim != 4 or weight.shape[1:] != (x.shape[1], 3, 3):
        raise ValueError(f"conv3x3 needs x (N, C, H, W) and weight (K, C, 3, 3), got {x.shape} and {weight.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, c, h, w = x.shape
    k = weight.shape[0]
    u = transform_weights(weight) if u is None else u
    if u.shape != (16, k, c):
        raise ValueError(f"u must be transform_weights(weight), of shape {(16, k, c)}; got {u.shape}")
    b = np.zeros(k, np.float32) if bias is None else np.asarray(bias, np.float32).reshape(k)
    y = np.empty((n, k, h, w), np.float32)
    if y.size == 0 or c == 0:
        y.fill(0.0)
        if y.size:  # no input channels: the output is the bias, activated
            y += b[:, None, None]
            _activate(y, act)
        return y
    # An Inf input makes NaN (Inf - Inf) in the transforms where a direct conv gives +-Inf:
    # outputs that see it are non-finite either way; say nothing about it per call.
    with _workspace.lock, np.errstate(invalid="ignore", over="ignore"):
        for i in range(n):
            _conv_image(x[i], u, b, act, y[i], _workspace)
    return y


def _activate(o: np.ndarray, act: str | None) -> None:
    if act == "relu":
        np.maximum(o, 0.0, out=o)
    elif act == "relu6":
        np.clip(o, 0.0, 6.0, out=o)


def _conv_image(x: np.ndarray, u: np.ndarray, b: np.ndarray, act: str | None, y: np.ndarray, ws: _Workspace) -> None:
    c, h, w = x.shape
    k = u.shape[1]
    th, tw = (h + 1) // 2, (w + 1) // 2  # output tiles (2x2 each)
    r = tw + 1  # plane row length: the tiles' columns plus one spare
    max_band = max(1, _BAND_BYTES // (16 * (c + k) * r * 4) - 1)  # a band holds band + 1 plane rows
    nbands = -(-th // max_band)
    band = -(-th // nbands)  # equal bands
    rows = band + 1  # plane rows per band: its tile rows plus the next one (a tile spans two)
    n = rows * r  # elements per channel per band; the last plane row's results are spare
    margin = r  # the row transform reads up to one plane row past the last channel's block

    # Band-major parity planes of the input zero-padded by 1:
    # p[bi, ry, rx][c, i, j] = x[c, 2*(bi*band + i) + ry - 1, 2j + rx - 1]
    p = ws.get("planes", (nbands, 2, 2, c * n + margin))
    p[..., c * n :] = 0.0

    def split(lo: int, hi: int) -> None:
        for bi in range(nbands):
            t0 = bi * band
            for ry in range(2):
                i_lo, i_hi = min(max(t0, 1 - ry), t0 + rows), max(min(t0 + rows, (h - ry) // 2 + 1), t0)
                for rx in range(2):
                    j_lo, j_hi = 1 - rx, (w - rx) // 2 + 1
                    dst = p[bi, ry, rx, lo * n : hi * n].reshape(hi - lo, rows, r)
                    # the zero padding (and rows past the image), then the pixels
                    dst[:, : i_lo - t0] = 0.0
                    dst[:, i_hi - t0 :] = 0.0
                    dst[:, :, :j_lo] = 0.0
                    dst[:, :, j_hi:] = 0.0
                    if i_lo < i_hi:
                        dst[:, i_lo - t0 : i_hi - t0, j_lo:j_hi] = x[lo:hi, 2 * i_lo + ry - 1 : 2 * i_hi + ry - 2 : 2,
                                                                    2 * j_lo + rx - 1 : 2 * j_hi + rx - 2 : 2]

    _parallel(split, c)

    t = ws.get("rows", (2, c * n + 1))  # one row-transformed plane pair (+1: the column reads)
    t[:, c * n :] = 0.0
    v = ws.get("v", (16, c * n))
    m = ws.get("m", (16, k * n))
    s = ws.get("s", (4, k * n))

    for bi in range(nbands):
        t0 = bi * band
        planes = p[bi]

        def input_transform(lo: int, hi: int) -> None:
            # Reads past [a0, a1) (a row or a column further) land in the next channel's block,
            # which another thread may be writing: they feed only spare results.
            a0, a1 = lo * n, hi * n
            # tile rows 0,1,2,3 = even, odd, next even, next odd rows of the parity planes
            for a in range(4):
                for rx in range(2):
                    e, o = planes[0, rx], planes[1, rx]
                    _row_transform(a, e[a0:a1], o[a0:a1], e[a0 + r : a1 + r], o[a0 + r : a1 + r], t[rx, a0:a1])
                ev, od = t[0], t[1]
                for bcol in range(4):
                    _row_transform(bcol, ev[a0:a1], od[a0:a1], ev[a0 + 1 : a1 + 1], od[a0 + 1 : a1 + 1],
                                   v[4 * a + bcol, a0:a1])

        _parallel(input_transform, c)
        for j in range(16):
            np.matmul(u[j], v[j].reshape(c, n), out=m[j].reshape(k, n))

        def output_transform(lo: int, hi: int) -> None:
            a0, a1 = lo * n, hi * n
            for i in range(2):  # output row within the 2x2 tile
                for col in range(4):
                    _out_transform(i, m[col, a0:a1], m[4 + col, a0:a1], m[8 + col, a0:a1], m[12 + col, a0:a1],
                                   s[col, a0:a1])
                out_rows = min(band, (h - i + 1) // 2 - t0)  # output rows 2*(t0+ty)+i that exist
                for jx in range(2):  # output column within the tile
                    o = s[0, a0:a1] if jx == 0 else s[3, a0:a1]
                    _out_transform(jx, s[0, a0:a1], s[1, a0:a1], s[2, a0:a1], s[3, a0:a1], o)
                    o2 = o.reshape(hi - lo, n)
                    o2 += b[lo:hi, None]
                    _activate(o, act)
                    if out_rows > 0:
                        y[lo:hi, 2 * t0 + i : 2 * (t0 + out_rows) : 2, jx::2] = \
                            o2.reshape(hi - lo, rows, r)[:, :out_rows, : (w - jx + 1) // 2]

        _parallel(output_transform, k)


def _row_transform(a: int, d0, d1, d2, d3, out) -> None:
    """Row `a` of B^T d for the 1-D tile (d0, d1, d2, d3): B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]."""
    if a == 0:
        np.subtract(d0, d2, out=out)
    elif a == 1:
        np.add(d1, d2, out=out)
    elif a == 2:
        np.subtract(d2, d1, out=out)
    else:
        np.subtract(d1, d3, out=out)


def _out_transform(i: int, m0, m1, m2, m3, out) -> None:
    """Row `i` of A^T m: A^T = [[1,1,1,0],[0,1,-1,-1]]. `out` may alias m0 (i=0) or m3 (i=1)."""
    if i == 0:
        np.add(m0, m1, out=out)
        out += m2
    else:
        np.subtract(m1, m3, out=out)
        out -= m2
