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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from archspec.errors import Location, SpecError, error_head
from archspec.weights.readers import check_readable, read_safetensors

__all__ = ["WeightsReport", "load_weights", "save_weights", "read_checkpoint", "write_checkpoint",
           "fit_report", "SHOW_FIRST"]

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
    missing / unexpected / mismatched: the same, by kind (mismatched: "name: checkpoint [..], network [..]").
    ignored: training bookkeeping and optimizer state entries that were not considered.
    total: the net's parameter count.
    """

    loaded: int
    skipped: list[str]
    source: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    total: int = 0

    def summary(self) -> str:
        """One line for a terminal: "loaded 312/312 parameters from x.ckpt" (+ what was skipped)."""
        text = f"loaded {self.loaded}/{self.total} parameters from {self.source}"
        kinds = [(len(self.missing), "missing from the checkpoint (kept as initialized)"),
                 (len(self.mismatched), "of another shape (kept as initialized)"),
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
                            ("not in the network", self.unexpected)):
            if items:
                out.append("  " + listing(kind, items))
        return out


# --------------------------------------------------------------------------------------------
# reading


def read_checkpoint(path: str | Path, option: str = "--weights") -> dict[str, np.ndarray]:
    """Read a MindSpore checkpoint (`.ckpt`, or `.safetensors`) into name -> array, in file order.

    Every problem (no such file, a folder, an empty, corrupt or truncated file, a PyTorch file
    given by mistake) is a SpecError located at the path.
    """
    p = Path(path)
    shown = str(path)
    check_readable(p, shown, option, what="checkpoint")
    suffix = p.suffix.lower()
    if suffix in (".pth", ".pt", ".npz", ".bin"):
        raise SpecError("this looks like a PyTorch/NumPy file, not a MindSpore checkpoint", Location(shown),
                        hint="convert it first: archspec weights import SPEC " + shown + " --out model.ckpt")
    if suffix == ".safetensors":
        return read_safetensors(p, shown)
    return _read_ckpt(p, shown)


def _read_ckpt(p: Path, shown: str) -> dict[str, np.ndarray]:
    size = p.stat().st_size
    if size == 0:
        raise SpecError("the file is empty", Location(shown), hint="the file was not written completely; save it again")
    if size > PROTO_LIMIT + 64:
        raise SpecError(f"the file is {size / 2**30:.1f} GiB; MindSpore's .ckpt format holds at most 2 GiB",
                        Location(shown), hint="use a .safetensors checkpoint for models this large")
    data = p.read_bytes()
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
    arrays: dict[str, np.ndarray] = {}
    chunks: list[bytes] = []
    values = list(ckpt.value)
    if not values:
        raise SpecError("the file holds no tensors", Location(shown),
                        hint="is it a MindSpore checkpoint? (an unrelated file can parse as an empty one)")
    for i, element in enumerate(values):
        if not element.HasField("tensor"):  # MapParameter (embedding tables): not a network parameter here
            arrays.setdefault(element.tag, None)  # type: ignore[arg-type]
            continue
        chunks.append(element.tensor.tensor_content)
        last = i == len(values) - 1 or values[i + 1].tag != element.tag
        if not last:
            continue
        content = b"".join(chunks)
        chunks = []
        arrays[element.tag] = _to_array(element.tag, element.tensor.tensor_type, list(element.tensor.dims),
                                        content, shown)
    return {k: v for k, v in arrays.items() if v is not None}


def _to_array(tag: str, ms_type: str, dims: list[int], content: bytes, shown: str):
    if ms_type == "str":
        return None  # bookkeeping text (not a tensor)
    if dims == [0]:
        dims = []  # MindSpore writes scalars as dims [0]
    if any(d < 0 for d in dims):
        raise SpecError(f"tensor '{tag}' has a negative dimension {dims}: the file is corrupted",
                        Location(shown))
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    if ms_type == "BFloat16":
        if len(content) != 2 * count:
            raise _bad_size(shown, tag, dims, ms_type, len(content), 2 * count)
        bits = np.frombuffer(content, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32).reshape(dims)
    dtype = _NP_OF_MS.get(ms_type)
    if dtype is None:
        raise SpecError(f"tensor '{tag}' has data type '{ms_type}', which archspec cannot read",
                        Location(shown), hint="supported: " + ", ".join(sorted(_NP_OF_MS)) + ", BFloat16")
    want = count * np.dtype(dtype).itemsize
    if len(content) != want:
        raise _bad_size(shown, tag, dims, ms_type, len(content), want)
    return np.frombuffer(content, dtype=dtype).reshape(dims).copy()


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
    with atomic_path(p, suffix=".ckpt") as tmp:
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
    missing, mismatched, skipped = [], [], []
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
            mismatched.append(f"{name}: checkpoint {arr.dtype}, network {np.dtype(dtype)}")
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
                           unexpected=unexpected, mismatched=mismatched, ignored=ignored, total=len(params))
    return report, fitting


def listing(kind: str, items: list[str], limit: int = SHOW_FIRST) -> str:
    """'missing (12): a, b, c, ... and 9 more'."""
    shown = ", ".join(items[:limit])
    more = f", ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{kind} ({len(items)}): {shown}{more}"


def load_weights(net, path: str | Path, *, allow_partial: bool = False, option: str = "--weights") -> WeightsReport:
    """Load a MindSpore checkpoint into a built SpecNet (any Cell) by parameter name.

    Strict by default: if any parameter is missing, any checkpoint tensor is not a parameter of
    the net, or any shape differs, raises one SpecError listing them (the net is unchanged).
    `allow_partial=True` loads what fits and lists the rest in the report's `skipped`; loading
    nothing at all is still an error.
    """
    from mindspore import Tensor

    shown = str(path)
    arrays = read_checkpoint(path, option=option)
    params = {p.name: p for p in net.get_parameters()}
    shapes = {name: (tuple(p.shape), _np_dtype(p)) for name, p in params.items()}
    report, fitting = fit_report(arrays, shapes, shown)
    graph_name = getattr(getattr(net, "spec_graph", None), "name", type(net).__name__)
    problems = bool(report.missing or report.unexpected or report.mismatched)
    if problems and (not allow_partial or not fitting):
        lines = []
        if report.missing:
            lines.append(listing("missing from the checkpoint", report.missing))
        if report.mismatched:
            lines.append(listing("shape differs", report.mismatched))
        if report.unexpected:
            lines.append(listing("not in the network", report.unexpected))
        counts = ", ".join(f"{n} {w}" for n, w in ((len(report.missing), "missing"),
                                                   (len(report.mismatched), "of another shape"),
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
    for name, arr in fitting.items():
        params[name].set_data(Tensor(arr))
    return report


def _np_dtype(param) -> Any:
    """NumPy dtype of a Parameter ("Float32" -> float32); float32 for types NumPy lacks (BFloat16)."""
    return _NP_OF_MS.get(str(param.dtype), np.float32)
