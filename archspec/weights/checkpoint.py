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
Checkpoints are read here, by walking the protobuf wire format of MindSpore's checkpoint schema
over a memory map of the file, rather than through `mindspore.load_checkpoint`: a damaged file is
one clean message (MindSpore logs its own critical errors first), every tensor's byte count is
checked against its shape, listing a file (`weights show`) reads no tensor data, and reading
needs no MindSpore. Files are written the same way MindSpore writes them (one `Checkpoint` message
per parameter, then a CRC32 trailer that `mindspore.load_checkpoint(..., crc_check=True)` verifies),
into a temporary file that is renamed into place (`archspec.files`), so a failure never leaves
half a file. Tests check both directions against `mindspore.save_checkpoint`/`load_checkpoint`.

Training checkpoints also carry bookkeeping (`epoch_num`, `step_num`, `learning_rate`,
`global_step`, ...) and optimizer state (`moments.<param>`, `adam_m.<param>`, ...): those entries
are not "unexpected" tensors; they are counted in the report's `ignored`.

MindSpore is imported inside functions only (writing and loading into a net).
"""
from __future__ import annotations

import binascii
import contextlib
import math
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from archspec.errors import Location, SpecError
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
    with _mapped_ckpt(p, shown, option) as tensors:
        return {tag: _to_array(tag, ms_type, dims, content, shown) for tag, (ms_type, dims, content) in tensors.items()}


def list_checkpoint(path: str | Path, option: str = "--weights") -> Listing:
    """(name, shape, dtype) of every tensor of a checkpoint; no tensor data is read."""
    p, shown = Path(path), str(path)
    if _ckpt_kind(p, shown) == "safetensors":
        return list_safetensors(p, shown, option)
    out = []
    with _mapped_ckpt(p, shown, option) as tensors:
        for tag, (ms_type, dims, content) in tensors.items():
            dims = [] if dims == [0] else dims
            _check_bytes(tag, ms_type, dims, len(content), shown)
            out.append((tag, tuple(dims), "bfloat16" if ms_type == "BFloat16" else str(np.dtype(_NP_OF_MS[ms_type]))))
    return out


class _Corrupt(Exception):
    pass


def _varint(buf, i: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= end:
            raise _Corrupt("it ends inside a number")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise _Corrupt("a number longer than 10 bytes")


def _fields(buf, start: int, end: int):
    """(field number, wire type, value) of one protobuf message in buf[start:end]: the varint for
    wire type 0, (begin, end) of the bytes for wire type 2; other fields are skipped."""
    i = start
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i, end)
            yield number, 0, value
        elif wire == 2:
            n, i = _varint(buf, i, end)
            if i + n > end:
                raise _Corrupt(f"field {number} claims {n:,} bytes past the end of its message")
            yield number, 2, (i, i + n)
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            if i > end:
                raise _Corrupt("it ends inside a fixed-size field")
        else:
            raise _Corrupt(f"wire type {wire} (field {number}) is not protobuf")
        if number == 0:
            raise _Corrupt("field number 0")


def _text(buf, span: tuple[int, int], what: str) -> str:
    try:
        return bytes(buf[span[0]:span[1]]).decode("utf-8")
    except UnicodeDecodeError:
        raise _Corrupt(f"its {what} is not UTF-8 text") from None


def _tensor_fields(buf, span: tuple[int, int]) -> tuple[str, list[int], tuple[int, int]]:
    """(type, dims, content span) of a TensorProto {1: repeated int64 dims, 2: type, 3: bytes}."""
    ms_type, dims, content = "", [], (span[0], span[0])
    for number, wire, value in _fields(buf, *span):
        if number == 1 and wire == 0:
            dims.append(value - (1 << 64) if value >= 1 << 63 else value)
        elif number == 1 and wire == 2:  # packed
            i = value[0]
            while i < value[1]:
                d, i = _varint(buf, i, value[1])
                dims.append(d - (1 << 64) if d >= 1 << 63 else d)
        elif number == 2 and wire == 2:
            ms_type = _text(buf, value, "data type")
        elif number == 3 and wire == 2:
            content = value
        elif number in (1, 2, 3):
            raise _Corrupt(f"tensor field {number} has wire type {wire}")
    return ms_type, dims, content


@contextlib.contextmanager
def _mapped_ckpt(p: Path, shown: str, option: str):
    """name -> (type, dims, content as a memoryview into the mapped file) of a .ckpt, in file order.

    A .ckpt is protobuf: `Checkpoint {repeated Value value = 1}`, `Value {tag = 1; TensorProto
    tensor = 2; MapTensorProto maptensor = 3}`, `TensorProto {repeated int64 dims = 1; tensor_type
    = 2; bytes tensor_content = 3}` (MindSpore's checkpoint.proto). It is walked here, over a memory
    map of the file, rather than parsed into messages: listing then reads no tensor data, and
    reading copies each tensor once."""
    def corrupt(why: str) -> SpecError:
        return SpecError(f"not a readable MindSpore checkpoint: it is corrupted, truncated, encrypted or of another "
                         f"format ({why})", Location(shown),
                         hint="a .ckpt comes from mindspore.save_checkpoint or archspec; PyTorch weights go through "
                              "`archspec weights import`")

    with open_weights(p, shown, option, what="checkpoint file", limit=PROTO_LIMIT + 64) as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise SpecError("the file is empty", Location(shown),
                            hint="the file was not written completely; save it again")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            buf = memoryview(mapped)
            tensors: dict = {}
            try:
                end = len(buf)
                if end >= 17 and buf[end - 17:end - 10] == CRC_TAG:
                    end -= 17
                    if binascii.crc32(buf[:end]) != int.from_bytes(buf[end + 7:end + 17], "big"):
                        raise SpecError("the checkpoint is corrupted: its CRC32 check failed", Location(shown),
                                        hint="the file changed after it was written; copy or save it again")
                try:
                    tensors = _walk_ckpt(buf, end, shown)
                except _Corrupt as e:
                    raise corrupt(str(e)) from None
                yield tensors
            finally:
                for _, _, content in tensors.values():  # views into the map: let it close
                    if isinstance(content, memoryview):
                        content.release()
                buf.release()


def _walk_ckpt(buf, end: int, shown: str) -> dict[str, tuple[str, list[int], Any]]:
    from archspec.weights.readers import check_sizes

    entries: list[tuple[str, str, list[int], tuple[int, int]]] = []
    for number, wire, value in _fields(buf, 0, end):
        if number != 1:
            continue
        if wire != 2:
            raise _Corrupt(f"a value has wire type {wire}")
        tag, tensor = None, None
        for n2, w2, v2 in _fields(buf, *value):
            if n2 == 1 and w2 == 2:
                tag = _text(buf, v2, "tensor name")
            elif n2 == 2 and w2 == 2:
                tensor = _tensor_fields(buf, v2)
            elif n2 in (1, 2):
                raise _Corrupt(f"value field {n2} has wire type {w2}")
        if tag is None:
            raise _Corrupt("a value without a name")
        if tensor is None or tensor[0] in ("", "str"):
            continue  # MapParameter (embedding tables), bookkeeping text: not network parameters here
        entries.append((tag, *tensor))
    if not entries:
        raise SpecError("the file holds no tensors", Location(shown),
                        hint="is it a MindSpore checkpoint? (an unrelated file can parse as an empty one)")
    check_sizes([b - a for _, _, _, (a, b) in entries], shown)
    tensors: dict[str, tuple[str, list[int], Any]] = {}
    i = 0
    while i < len(entries):  # a large parameter is written in slices: consecutive values of one name
        j = i + 1
        while j < len(entries) and entries[j][0] == entries[i][0]:
            j += 1
        tag, ms_type, dims, (a, b) = entries[i]
        content = buf[a:b] if j == i + 1 else b"".join(bytes(buf[s:e]) for *_, (s, e) in entries[i:j])
        tensors[tag] = (ms_type, dims, content)
        i = j
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
    return np.frombuffer(content, dtype=_NP_OF_MS[ms_type]).reshape(dims).copy()  # off the memory map


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
    with atomic_path(p, suffix=".ckpt", replace=force, option=option) as tmp:
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
                 option: str = "--weights", partial_option: str | None = "--allow-partial") -> WeightsReport:
    """Load a MindSpore checkpoint into a built SpecNet (any Cell) by parameter name.

    Strict by default: if any parameter is missing, any checkpoint tensor is not a parameter of
    the net, or any shape or data type differs, raises one SpecError listing them (the net is
    unchanged). `allow_partial=True` loads what fits and lists the rest in the report's `skipped`;
    loading nothing at all is still an error. Tensors holding NaN or inf are refused unless
    `allow_nonfinite=True`. `partial_option`: how the caller's user asks for a partial load (None:
    they cannot, e.g. evaluation, and the hints do not offer it).
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
            if fitting and partial_option:
                hint += f"; {partial_option} loads the few that fit"
        else:
            head = f"the checkpoint does not fit network '{graph_name}' ({counts})"
            hint = "build the spec with the params the weights were made for (--set)"
            if partial_option:
                hint = (f"pass {partial_option} to load the {len(fitting)} parameters that fit and keep the others "
                        f"as initialized (e.g. for a new number of classes), or {hint}")
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
