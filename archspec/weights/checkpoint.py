"""MindSpore checkpoints in and out of a built SpecNet, by parameter name.

    report = load_weights(net, "model.ckpt")                  # strict: everything must fit
    report = load_weights(net, "voc.ckpt", allow_partial=True) # e.g. a new number of classes
    save_weights(net, "init.ckpt", force=True)

Strict loading (the default) checks the whole checkpoint before touching the net: parameters the
checkpoint lacks, checkpoint tensors the net does not have, and tensors of another shape are listed
(the first few of each, and how many in all) in ONE `SpecError`, and the net is left unchanged.
With `allow_partial=True` the fitting tensors are loaded, the rest is kept as initialized and listed
in the report's `skipped`.

Files: `.ckpt` is MindSpore's protobuf checkpoint (what `mindspore.save_checkpoint` writes and
`mindspore.load_checkpoint` reads); `.safetensors` files with MindSpore parameter names are read too.
Checkpoints are parsed here with MindSpore's own protobuf schema (`mindspore.train.checkpoint_pb2`)
rather than through `mindspore.load_checkpoint`, so that a damaged file is one clean message
(MindSpore logs its own critical errors first) and so that every tensor's byte count is checked
against its shape. Files are written the same way MindSpore writes them (one `Checkpoint` message
per parameter, then a CRC32 trailer that `mindspore.load_checkpoint(..., crc_check=True)` verifies),
into a temporary file that is renamed into place (`archspec.files`), so a failure never leaves
half a file. Tests check both directions against `mindspore.save_checkpoint`/`load_checkpoint`.

Training checkpoints also carry bookkeeping (`epoch_num`, `step_num`, `learning_rate`,
`global_step`, ...) and optimizer state (`moments.<param>`, `adam_m.<param>`, ...): those entries
are not "unexpected" tensors; they are counted in the report's `ignored`.

MindSpore is imported inside functions only.
"""
from __future__ import annotations

import binascii
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from archspec.errors import Location, SpecError, error_head
from archspec.weights.readers import Listing, list_safetensors, open_weights, read_safetensors

__all__ = ["WeightsReport", "load_weights", "save_weights", "read_checkpoint", "list_checkpoint", "write_checkpoint",
           "fit_report", "check_finite", "SHOW_FIRST", "ALLOW_NONFINITE"]

ALLOW_NONFINITE = "--allow-nonfinite"  # the option that loads weights holding NaN or inf anyway

SHOW_FIRST = 8  # how many names of each kind a message lists
CRC_TAG = b"crc_num"
PROTO_LIMIT = 2 ** 31 - 1  # protobuf messages cannot be larger

_NP_OF_MS = {"Int8": np.int8, "UInt8": np.uint8, "Int16": np.int16, "UInt16": np.uint16, "Int32": np.int32,
             "UInt32": np.uint32, "Int64": np.int64, "UInt64": np.uint64, "Float16": np.float16,
             "Float32": np.float32, "Float64": np.float64, "Bool": np.bool_}
_MS_OF_NP = {np.dtype(v).str: k for k, v in _NP_OF_MS.items()}

# Entries of MindSpore training checkpoints that are not network parameters.
_TRAINING_STATE = {"epoch_num", "step_num", "global_step", "learning_rate", "current_iterator_step",
                   "last_overflow_iterator_step", "scale_sense", "loss_scale", "beta1_power", "beta2_power",
                   "momentum", "weight_decay", "cur_step_num", "cur_epoch_num"}


@dataclass
class WeightsReport:
    """What `load_weights` did.

    loaded: how many of the net's parameters got a value from the checkpoint.
    skipped: human-readable entries ("name: reason") for everything not loaded: net parameters the
        checkpoint lacks or has in another shape (kept as initialized), checkpoint tensors the net
        does not have. Empty after a strict load.
    source: the checkpoint path.
    missing / unexpected / mismatched / retyped: the same, by kind (mismatched: "name: checkpoint [..],
        network [..]"; retyped: another data type, e.g. int32 where the network has float32).
    ignored: training bookkeeping and optimizer state entries that were not considered.
    total: the net's parameter count.
    """

    loaded: int
    skipped: list[str]
    source: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    total: int = 0

    def summary(self) -> str:
        """One line for a terminal: "loaded 312/312 parameters from x.ckpt" (+ what was skipped)."""
        text = f"loaded {self.loaded}/{self.total} parameters from {self.source}"
        kinds = [(len(self.missing), "missing from the checkpoint (kept as initialized)"),
                 (len(self.mismatched), "of another shape (kept as initialized)"),
                 (len(self.retyped), "of another data type (kept as initialized)"),
                 (len(self.unexpected), "checkpoint tensors the network does not have")]
        extra = [f"{n} {what}" for n, what in kinds if n]
        if extra:
            text += "; skipped " + ", ".join(extra)
        if self.ignored:
            text += f"; ignored {len(self.ignored)} training-state entries"
        return text

    def lines(self) -> list[str]:
        """The summary, then what was skipped by kind (the first few names of each)."""
        out = [self.summary()]
        for kind, items in (("missing", self.missing), ("shape differs", self.mismatched),
                            ("data type differs", self.retyped),
                            ("not in the network", self.unexpected)):
            if items:
                out.append("  " + listing(kind, items))
        return out


# --------------------------------------------------------------------------------------------
# reading


def _ckpt_kind(p: Path, shown: str) -> str:
    suffix = p.suffix.lower()
    if suffix in (".pth", ".pt", ".npz", ".bin"):
        raise SpecError("this looks like a PyTorch/NumPy file, not a MindSpore checkpoint", Location(shown),
                        hint="convert it first: archspec weights import SPEC " + shown + " --out model.ckpt")
    return "safetensors" if suffix == ".safetensors" else "ckpt"


def read_checkpoint(path: str | Path, option: str = "--weights") -> dict[str, np.ndarray]:
    """Read a MindSpore checkpoint (`.ckpt`, or `.safetensors`) into name -> array, in file order.

    Every problem (no such file, a folder, a FIFO or device, an empty, corrupt or truncated file, a
    PyTorch file given by mistake) is a SpecError located at the path.
    """
    p, shown = Path(path), str(path)
    if _ckpt_kind(p, shown) == "safetensors":
        return read_safetensors(p, shown, option)
    return {tag: _to_array(tag, t.tensor_type, list(t.dims), t.tensor_content, shown)
            for tag, t in _read_ckpt(p, shown, option).items()}


def list_checkpoint(path: str | Path, option: str = "--weights") -> Listing:
    """(name, shape, dtype) of every tensor of a checkpoint; no array is made."""
    p, shown = Path(path), str(path)
    if _ckpt_kind(p, shown) == "safetensors":
        return list_safetensors(p, shown, option)
    out = []
    for tag, t in _read_ckpt(p, shown, option).items():
        dims = [] if list(t.dims) == [0] else [int(d) for d in t.dims]
        _check_bytes(tag, t.tensor_type, dims, len(t.tensor_content), shown)
        out.append((tag, tuple(dims), "bfloat16" if t.tensor_type == "BFloat16" else
                    str(np.dtype(_NP_OF_MS[t.tensor_type]))))
    return out


class _Tensor:
    """One parameter of a .ckpt: its type, dims and bytes (slices of a large one joined)."""

    def __init__(self, tensor_type: str, dims, content: bytes) -> None:
        self.tensor_type, self.dims, self.tensor_content = tensor_type, dims, content


def _read_ckpt(p: Path, shown: str, option: str) -> dict[str, _Tensor]:
    with open_weights(p, shown, option, what="checkpoint file", limit=PROTO_LIMIT + 64) as f:
        data = f.read(PROTO_LIMIT + 65)
    if not data:
        raise SpecError("the file is empty", Location(shown), hint="the file was not written completely; save it again")
    body = data
    if len(data) >= 17 and data[-17:-10] == CRC_TAG:
        body = data[:-17]
        if binascii.crc32(body) != int.from_bytes(data[-10:], "big"):
            raise SpecError("the checkpoint is corrupted: its CRC32 check failed", Location(shown),
                            hint="the file changed after it was written; copy or save it again")
    from google.protobuf.message import DecodeError
    from mindspore.train.checkpoint_pb2 import Checkpoint

    ckpt = Checkpoint()
    try:
        ckpt.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError, TypeError) as e:
        raise SpecError(f"not a readable MindSpore checkpoint: it is corrupted, truncated, encrypted or "
                        f"of another format ({error_head(e)})", Location(shown),
                        hint="a .ckpt comes from mindspore.save_checkpoint or archspec; PyTorch weights go through "
                             "`archspec weights import`") from None
    del data, body
    values = list(ckpt.value)
    if not values:
        raise SpecError("the file holds no tensors", Location(shown),
                        hint="is it a MindSpore checkpoint? (an unrelated file can parse as an empty one)")
    from archspec.weights.readers import check_sizes

    check_sizes([len(v.tensor.tensor_content) for v in values], shown)
    tensors: dict[str, _Tensor] = {}
    chunks: list[bytes] = []
    for i, element in enumerate(values):
        if not element.HasField("tensor") or element.tensor.tensor_type == "str":
            continue  # MapParameter (embedding tables), bookkeeping text: not network parameters here
        chunks.append(element.tensor.tensor_content)
        if i < len(values) - 1 and values[i + 1].tag == element.tag:
            continue  # a large parameter is written in slices
        tensors[element.tag] = _Tensor(element.tensor.tensor_type, list(element.tensor.dims),
                                       chunks[0] if len(chunks) == 1 else b"".join(chunks))
        chunks = []
    return tensors


def _check_bytes(tag: str, ms_type: str, dims: list[int], got: int, shown: str) -> int:
    """The element count of a tensor whose bytes match its dims and type (SpecError otherwise)."""
    if any(d < 0 for d in dims):
        raise SpecError(f"tensor '{tag}' has a negative dimension {dims}: the file is corrupted", Location(shown))
    if ms_type != "BFloat16" and ms_type not in _NP_OF_MS:
        raise SpecError(f"tensor '{tag}' has data type '{ms_type}', which archspec cannot read",
                        Location(shown), hint="supported: " + ", ".join(sorted(_NP_OF_MS)) + ", BFloat16")
    count = math.prod(dims)  # Python ints: dimensions whose product overflows int64 are just wrong here
    want = count * (2 if ms_type == "BFloat16" else np.dtype(_NP_OF_MS[ms_type]).itemsize)
    if got != want:
        raise _bad_size(shown, tag, dims, ms_type, got, want)
    return count


def _to_array(tag: str, ms_type: str, dims: list[int], content: bytes, shown: str):
    if dims == [0]:
        dims = []  # MindSpore writes scalars as dims [0]
    _check_bytes(tag, ms_type, dims, len(content), shown)
    if ms_type == "BFloat16":
        bits = np.frombuffer(content, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(dims)
    return np.frombuffer(content, dtype=_NP_OF_MS[ms_type]).reshape(dims).copy()


def _bad_size(shown, tag, dims, ms_type, got, want) -> SpecError:
    return SpecError(f"tensor '{tag}' ({ms_type} {list(dims)}) has {got} bytes of data, expected {want}: "
                     f"the file is truncated or corrupted", Location(shown), hint="save or copy the checkpoint again")


# --------------------------------------------------------------------------------------------
# writing


def write_checkpoint(arrays: dict[str, Any], path: str | Path, *, force: bool = False, option: str = "--out") -> Path:
    """Write name -> array (NumPy or MindSpore tensors) as a MindSpore `.ckpt`, atomically.

    The file is what `mindspore.save_checkpoint` writes (with `crc_check=True`): one protobuf
    `Checkpoint` message per tensor and a CRC32 trailer.
    """
    from archspec.files import atomic_path, check_target

    p = Path(path)
    if p.suffix != ".ckpt":
        raise SpecError(f"{p} should end in .ckpt (MindSpore's loader reads only that name)", Location(option),
                        hint=f"e.g. {option} {p.with_suffix('.ckpt')}")
    check_target(p, force, option)
    from mindspore.train.checkpoint_pb2 import Checkpoint

    crc = 0
    total = 0
    with atomic_path(p, suffix=".ckpt", force=force, option=option) as tmp:
        with open(tmp, "wb") as f:
            for name, value in arrays.items():
                arr = value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)
                ms_type = _MS_OF_NP.get(arr.dtype.str) or _MS_OF_NP.get(arr.dtype.newbyteorder("<").str)
                if ms_type is None:
                    raise SpecError(f"tensor '{name}' has data type {arr.dtype}, which a checkpoint cannot hold",
                                    Location(option))
                msg = Checkpoint()
                entry = msg.value.add()
                entry.tag = name
                entry.tensor.dims.extend(list(arr.shape) if arr.ndim else [0])
                entry.tensor.tensor_type = ms_type
                entry.tensor.tensor_content = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
                data = msg.SerializeToString()
                total += len(data)
                if total > PROTO_LIMIT:
                    raise SpecError("the weights exceed MindSpore's 2 GiB .ckpt limit", Location(option))
                crc = binascii.crc32(data, crc)
                f.write(data)
            f.write(CRC_TAG + crc.to_bytes(10, "big"))
    return p


def save_weights(net, path: str | Path, *, force: bool = False, option: str = "--save-ckpt") -> Path:
    """Write every parameter of `net` (by its name, e.g. `layer1.0.conv1.conv.weight`) to a `.ckpt`."""
    return write_checkpoint({p.name: p.data.asnumpy() for p in net.get_parameters()}, path, force=force,
                            option=option)


# --------------------------------------------------------------------------------------------
# loading into a net


def is_training_state(name: str, param_names: Iterable[str] | set[str]) -> bool:
    """True for bookkeeping (epoch_num, learning_rate, ...) and optimizer state of a parameter."""
    if name in _TRAINING_STATE:
        return True
    head, sep, rest = name.partition(".")
    return bool(sep) and rest in param_names and head not in param_names


def fit_report(arrays: dict[str, np.ndarray], params: dict[str, tuple[tuple[int, ...], Any]],
               source: str) -> tuple[WeightsReport, dict[str, np.ndarray]]:
    """Compare checkpoint arrays with parameters (name -> (shape, numpy dtype)).

    Returns the report (as if loading partially) and the arrays that fit, cast to the parameters'
    dtypes, in parameter order.
    """
    fitting: dict[str, np.ndarray] = {}
    missing, mismatched, retyped, skipped = [], [], [], []
    for name, (shape, dtype) in params.items():
        arr = arrays.get(name)
        if arr is None:
            missing.append(name)
            skipped.append(f"{name}: missing from the checkpoint")
            continue
        if tuple(arr.shape) != tuple(shape):
            mismatched.append(f"{name}: checkpoint {list(arr.shape)}, network {list(shape)}")
            skipped.append(f"{name}: shape {list(arr.shape)} in the checkpoint, {list(shape)} in the network")
            continue
        if arr.dtype.kind not in "fiub" or (np.dtype(dtype).kind == "f") != (arr.dtype.kind == "f"):
            retyped.append(f"{name}: checkpoint {arr.dtype}, network {np.dtype(dtype)}")
            skipped.append(f"{name}: data type {arr.dtype} in the checkpoint, {np.dtype(dtype)} in the network")
            continue
        fitting[name] = arr.astype(dtype, copy=False)
    unexpected, ignored = [], []
    names = set(params)
    for name in arrays:
        if name in params:
            continue
        if is_training_state(name, names):
            ignored.append(name)
        else:
            unexpected.append(name)
            skipped.append(f"{name}: not a parameter of the network")
    report = WeightsReport(loaded=len(fitting), skipped=skipped, source=source, missing=missing,
                           unexpected=unexpected, mismatched=mismatched, retyped=retyped, ignored=ignored,
                           total=len(params))
    return report, fitting


def listing(kind: str, items: list[str], limit: int = SHOW_FIRST) -> str:
    """'missing (12): a, b, c, ... and 9 more'."""
    shown = ", ".join(items[:limit])
    more = f", ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{kind} ({len(items)}): {shown}{more}"


def load_weights(net, path: str | Path, *, allow_partial: bool = False, allow_nonfinite: bool = False,
                 option: str = "--weights") -> WeightsReport:
    """Load a MindSpore checkpoint into a built SpecNet (any Cell) by parameter name.

    Strict by default: if any parameter is missing, any checkpoint tensor is not a parameter of
    the net, or any shape or data type differs, raises one SpecError listing them (the net is
    unchanged). `allow_partial=True` loads what fits and lists the rest in the report's `skipped`;
    loading nothing at all is still an error. Tensors holding NaN or inf are refused unless
    `allow_nonfinite=True`.
    """
    from mindspore import Tensor

    shown = str(path)
    arrays = read_checkpoint(path, option=option)
    params = {p.name: p for p in net.get_parameters()}
    shapes = {name: (tuple(p.shape), _np_dtype(p)) for name, p in params.items()}
    report, fitting = fit_report(arrays, shapes, shown)
    graph_name = getattr(getattr(net, "spec_graph", None), "name", type(net).__name__)
    problems = bool(report.missing or report.unexpected or report.mismatched or report.retyped)
    if problems and (not allow_partial or not fitting):
        lines = []
        if report.missing:
            lines.append(listing("missing from the checkpoint", report.missing))
        if report.mismatched:
            lines.append(listing("shape differs", report.mismatched))
        if report.retyped:
            lines.append(listing("data type differs", report.retyped))
        if report.unexpected:
            lines.append(listing("not in the network", report.unexpected))
        counts = ", ".join(f"{n} {w}" for n, w in ((len(report.missing), "missing"),
                                                   (len(report.mismatched), "of another shape"),
                                                   (len(report.retyped), "of another data type"),
                                                   (len(report.unexpected), "unexpected")) if n)
        if not fitting or len(fitting) < len(params) // 2:
            head = (f"no tensor of the checkpoint fits network '{graph_name}' ({counts})" if not fitting else
                    f"only {len(fitting)} of the {len(params)} parameters of network '{graph_name}' fit the "
                    f"checkpoint ({counts})")
            hint = ("most names do not match: is it another model's checkpoint, or PyTorch weights? "
                    "Convert PyTorch weights with `archspec weights import SPEC SOURCE --out model.ckpt`")
            if report.mismatched and not report.unexpected:
                hint = ("the names match but the shapes do not: build the spec with the params the weights were "
                        "made for (--set)")
            if fitting:
                hint += "; --allow-partial loads the few that fit"
        else:
            head = f"the checkpoint does not fit network '{graph_name}' ({counts})"
            hint = (f"pass --allow-partial to load the {len(fitting)} parameters that fit and keep the others as "
                    f"initialized (e.g. for a new number of classes), or build the spec with the params the "
                    f"weights were made for (--set)")
        raise SpecError(head + "\n  " + "\n  ".join(lines), Location(shown), hint=hint)
    if not allow_nonfinite:
        check_finite(fitting.items(), shown)
    for name, arr in fitting.items():
        params[name].set_data(Tensor(arr))
    return report


def check_finite(arrays: Iterable[tuple[str, np.ndarray]], shown: str) -> None:
    """Refuse tensors that hold NaN or infinite values (a training run that diverged, a broken
    conversion): loaded silently, they make every output meaningless. One SpecError at the file
    names them; `--allow-nonfinite` (`allow_nonfinite=True`) skips this check."""
    bad = []
    for name, arr in arrays:
        if arr.dtype.kind != "f":
            continue
        flat = arr.reshape(-1)
        step = 1 << 22  # in chunks: no mask the size of a big tensor
        if all(np.isfinite(flat[i:i + step]).all() for i in range(0, flat.size, step)):
            continue
        counts = [(int(np.isnan(flat).sum()), "NaN"), (int(np.isinf(flat).sum()), "inf")]
        bad.append(f"{name} ({', '.join(f'{n} {what}' for n, what in counts if n)})")
    if bad:
        raise SpecError(listing("tensors hold NaN or infinite values", bad), Location(shown),
                        hint=f"the weights are broken (a training run that diverged?); {ALLOW_NONFINITE} loads them "
                             "anyway")


def _np_dtype(param) -> Any:
    """NumPy dtype of a Parameter ("Float32" -> float32); float32 for types NumPy lacks (BFloat16)."""
    return _NP_OF_MS.get(str(param.dtype), np.float32)
