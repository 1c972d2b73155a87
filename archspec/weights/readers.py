"""Reading weight files into name -> NumPy array, without running code from them, and listing
their tensors (name, shape, data type) without reading the tensors at all.

Every reader opens the file through `archspec.files.open_regular` (a regular file, no FIFO or
device, size checked on the open file) and is bounded: the tensor bytes a file holds after
decompression, counted from its headers before anything is read, are at most
`limits.WEIGHT_BYTES`, and it holds at most `limits.WEIGHT_TENSORS` tensors.
  * `.pth` / `.pt` / `.bin`: PyTorch files, through `torch.load(..., map_location="cpu",
    weights_only=True)`, which refuses pickles holding anything but tensors and plain containers
    (it never runs code from the file). A PyTorch zip file's records are sized from its zip
    directory first (compressed records cannot blow up); listing loads onto PyTorch's "meta"
    device, which reads no tensor data. A training checkpoint holding the state_dict under a key
    (`state_dict`, `model_state`, `model`, ...) is unwrapped.
  * `.safetensors`: read here from its JSON header (offsets, shapes and data types checked
    against each other and the file); no PyTorch needed, bfloat16 becomes float32.
  * `.npz`: NumPy archives of `.npy` members, each member's header read first (object arrays,
    which need pickle, are refused); no PyTorch needed.
MindSpore `.ckpt` files are read by `archspec.weights.checkpoint`; `archspec.weights.sources`
picks the reader by the file's suffix.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from archspec import limits
from archspec.errors import Location, SpecError, error_head
from archspec.files import open_regular

_STATE_KEYS = ("state_dict", "model_state", "model_state_dict", "model", "net", "module", "params", "weights")
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
                       "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_SAFETENSORS_HEADER_BYTES = 100 * 2**20  # the safetensors format's own limit

Listing = list[tuple[str, tuple[int, ...], str]]  # (name, shape, dtype) in file order


def open_weights(p: Path, shown: str, option: str, what: str = "weights file", limit: int | None = None) -> BinaryIO:
    """The weight file opened for reading (regular file, at most `limit` bytes, default
    `limits.WEIGHT_BYTES`); every problem a SpecError at the file."""
    return open_regular(p, limits.WEIGHT_BYTES if limit is None else limit, loc=Location(shown), what=what,
                        shown=shown, hint=f"check the path given to {option}")


def _count(shape) -> int:
    return math.prod(int(d) for d in shape)


def check_sizes(sizes: list[int], shown: str) -> None:
    """The tensors a file declares: at most `limits.WEIGHT_TENSORS` of them and `limits.WEIGHT_BYTES`
    in all (LimitError at the file)."""
    if len(sizes) > limits.WEIGHT_TENSORS:
        raise limits.LimitError(f"the file declares {len(sizes):,} tensors; the limit is {limits.WEIGHT_TENSORS:,}",
                                Location(shown))
    total = sum(sizes)
    if total > limits.WEIGHT_BYTES:
        raise limits.LimitError(f"the file's tensors take {total:,} bytes unpacked; the limit is "
                                f"{limits.WEIGHT_BYTES:,}", Location(shown),
                                hint="a compressed file that unpacks to this much is not a model's weights")


# ----------------------------------------------------------------------------- safetensors


def _safetensors_header(f: BinaryIO, shown: str) -> tuple[int, list[tuple[str, tuple[int, ...], str, int, int]]]:
    """(where the data starts, [(name, shape, dtype, begin, end)]) from a .safetensors header, every
    entry checked: known data type, offsets inside the file, byte count = shape x item size."""
    size = os.fstat(f.fileno()).st_size

    def bad(why: str) -> SpecError:
        return SpecError(f"not a readable .safetensors file: {why}", Location(shown),
                         hint="check that the download or copy completed")

    head = f.read(8)
    if len(head) < 8:
        raise bad("it is shorter than its 8-byte header length")
    n = int.from_bytes(head, "little")
    if n > min(_SAFETENSORS_HEADER_BYTES, size - 8):
        raise bad(f"its header claims {n:,} bytes (the file has {size:,})")
    try:
        header = json.loads(f.read(n))
    except (ValueError, UnicodeDecodeError) as e:
        raise bad(f"its header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    start = 8 + n
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (b, e) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
            b, e = int(b), int(e)
        except (KeyError, TypeError, ValueError):
            raise bad(f"the entry of '{name}' lacks dtype, shape or data_offsets") from None
        if dtype not in _SAFETENSORS_DTYPES:
            raise SpecError(f"tensor '{name}' has data type {dtype}, which archspec cannot read", Location(shown),
                            hint="supported: " + ", ".join(sorted(_SAFETENSORS_DTYPES)))
        if any(d < 0 for d in shape) or not 0 <= b <= e <= size - start:
            raise bad(f"'{name}' has a negative dimension or data outside the file")
        if e - b != _count(shape) * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize:
            raise bad(f"'{name}' {list(shape)} {dtype} needs {_count(shape) * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize:,} "
                      f"bytes, its offsets give {e - b:,}")
        entries.append((str(name), shape, dtype, b, e))
    check_sizes([e - b for _, _, _, b, e in entries], shown)
    return start, sorted(entries, key=lambda t: t[3])  # file order


def list_safetensors(p: Path, shown: str, option: str = "SOURCE") -> Listing:
    with open_weights(p, shown, option) as f:
        _, entries = _safetensors_header(f, shown)
    return [(name, shape, "bfloat16" if dtype == "BF16" else str(np.dtype(_SAFETENSORS_DTYPES[dtype])))
            for name, shape, dtype, _, _ in entries]


def read_safetensors(p: Path, shown: str, option: str = "SOURCE") -> dict[str, np.ndarray]:
    """name -> array (bfloat16 as float32) of a .safetensors file."""
    arrays: dict[str, np.ndarray] = {}
    with open_weights(p, shown, option) as f:
        start, entries = _safetensors_header(f, shown)
        for name, shape, dtype, b, e in entries:
            f.seek(start + b)
            buf = bytearray(e - b)
            if f.readinto(buf) != len(buf):
                raise SpecError(f"not a readable .safetensors file: it ends inside '{name}'", Location(shown),
                                hint="check that the download or copy completed")
            arr = np.frombuffer(buf, dtype=_SAFETENSORS_DTYPES[dtype]).reshape(shape)
            if dtype == "BF16":
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
            arrays[name] = arr
    if not arrays:
        raise SpecError("the file holds no tensors", Location(shown))
    return arrays


# ----------------------------------------------------------------------------- npz


def _npz_members(z: zipfile.ZipFile, shown: str) -> list[tuple[str, zipfile.ZipInfo, tuple[int, ...], np.dtype, bool]]:
    """(name, member, shape, dtype, fortran order) of each array, from the member headers; every
    declared size checked against the zip directory and the limits before any data is read."""
    out = []
    infos = z.infolist()
    check_sizes([i.file_size for i in infos], shown)  # what the members unpack to, per the directory
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise ValueError(f"member {info.filename!r} is not a .npy array")
        with z.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            header = fp.tell() if fp.seekable() else None
        if dtype.hasobject:
            raise ValueError(f"array {info.filename[:-4]!r} holds Python objects (it needs pickle, which is refused)")
        nbytes = _count(shape) * dtype.itemsize
        if header is not None and nbytes != info.file_size - header:
            raise ValueError(f"array {info.filename[:-4]!r} declares {nbytes:,} bytes of data; the archive holds "
                             f"{info.file_size - header:,}")
        out.append((info.filename[:-4], info, tuple(shape), dtype, fortran))
    return out


def _with_npz(p: Path, shown: str, option: str, read: bool):
    try:
        with open_weights(p, shown, option) as f, zipfile.ZipFile(f) as z:
            members = _npz_members(z, shown)
            if not read:
                return [(name, shape, str(dtype)) for name, _, shape, dtype, _ in members]
            arrays = {}
            for name, info, shape, dtype, _ in members:
                with z.open(info) as fp:
                    arrays[name] = np.lib.format.read_array(fp, allow_pickle=False)
            return arrays
    except SpecError:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile (also a lying header: CRC), ValueError, OSError
        raise SpecError(f"not a readable .npz archive of arrays: it is corrupted, truncated, holds "
                        f"Python objects or is of another format ({error_head(e)})", Location(shown)) from None


def list_npz(p: Path, shown: str, option: str = "SOURCE") -> Listing:
    return _with_npz(p, shown, option, read=False)


def read_npz(p: Path, shown: str, option: str = "SOURCE") -> dict[str, np.ndarray]:
    return _with_npz(p, shown, option, read=True)


# ----------------------------------------------------------------------------- PyTorch


def _torch(shown: str):
    try:
        import torch
    except ImportError:
        raise SpecError("reading a PyTorch file needs PyTorch, which is not installed here", Location(shown),
                        hint="pip install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu "
                             "(the CPU build), or save the state_dict as .safetensors "
                             "where PyTorch is installed: safetensors.torch.save_file(model.state_dict(), "
                             "'weights.safetensors')") from None
    return torch


def _torch_load(f: BinaryIO, p: Path, shown: str, listing: bool):
    """torch.load of the open file `f`, weights only. To read, a zip file's records are sized from its
    directory first; to list, tensors go to the "meta" device: shapes and types, no data read."""
    torch = _torch(shown)
    if not listing and zipfile.is_zipfile(f):
        f.seek(0)
        try:
            with zipfile.ZipFile(f) as z:
                infos = z.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise _not_torch(shown, e) from None
        check_sizes([i.file_size for i in infos if "/data/" in i.filename], shown)
    f.seek(0)
    try:
        return torch.load(f, map_location="meta" if listing else "cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        if found:  # weights_only refused an object: a class, a function (os.system ...)
            raise SpecError(
                f"refused to load: the file holds Python objects, not only tensors (it names {found.group(1)}); "
                f"archspec reads PyTorch files with torch.load(weights_only=True), which never runs code from "
                f"the file", Location(shown),
                hint="if you trust the file, save just its weights in PyTorch: "
                     "torch.save(torch.load(path, weights_only=False).state_dict(), 'weights.pth') "
                     "(or the 'state_dict'/'model_state' entry of a training checkpoint)") from None
        raise SpecError(f"not a readable PyTorch file: it is corrupted, truncated, of another format, or a pickle "
                        f"that PyTorch's weights-only loader cannot read ({_weights_only_detail(str(e))})",
                        Location(shown), hint="check that the download or copy completed") from None
    except Exception as e:  # noqa: BLE001 - RuntimeError (bad zip), EOFError, OSError, ...
        raise _not_torch(shown, e) from None


def _not_torch(shown: str, e: BaseException) -> SpecError:
    return SpecError(f"not a readable PyTorch file: it is corrupted, truncated or of another format "
                     f"({error_head(e)})", Location(shown), hint="check that the download or copy completed")


def _torch_state(p: Path, shown: str, notes: list[str], listing: bool) -> Mapping:
    with open_weights(p, shown, "SOURCE") as f:
        obj = _torch_load(f, p, shown, listing)
    torch = _torch(shown)
    state, key = _find_state_dict(obj, torch)
    if state is None:
        keys = ", ".join(repr(k) for k in list(obj)[:10]) if isinstance(obj, Mapping) else type(obj).__name__
        raise SpecError(f"the file holds no state_dict (a mapping of names to tensors); found {keys}", Location(shown),
                        hint="save model.state_dict() in PyTorch, or pick the entry that holds it")
    if len(state) > limits.WEIGHT_TENSORS:
        check_sizes([0] * len(state), shown)
    if key is not None:
        notes.append(f"used the {key!r} entry of the checkpoint (other entries, e.g. optimizer state, are not weights)")
    for name, t in state.items():
        if t.is_quantized or t.is_sparse or t.is_complex():
            raise SpecError(f"tensor '{name}' is {'quantized' if t.is_quantized else 'sparse or complex'}; "
                            f"only dense real tensors can be imported", Location(shown))
    return state


def list_torch(p: Path, shown: str, notes: list[str]) -> Listing:
    state = _torch_state(p, shown, notes, listing=True)
    return [(str(name), tuple(int(d) for d in t.shape), str(t.dtype).removeprefix("torch.")) for name, t in state.items()]


def read_torch(p: Path, shown: str, notes: list[str]) -> dict[str, np.ndarray]:
    torch = _torch(shown)
    arrays: dict[str, np.ndarray] = {}
    for name, t in _torch_state(p, shown, notes, listing=False).items():
        t = t.detach().to("cpu")
        if t.dtype == torch.bfloat16:
            t = t.float()
        arrays[str(name)] = t.contiguous().numpy()
    return arrays


def _find_state_dict(obj: Any, torch) -> tuple[Mapping | None, str | None]:
    def is_state(d: Any) -> bool:
        return (isinstance(d, Mapping) and len(d) > 0 and all(isinstance(k, str) for k in d)
                and all(isinstance(v, torch.Tensor) for v in d.values()))

    if is_state(obj):
        return obj, None
    if not isinstance(obj, Mapping):
        return None, None
    for key in _STATE_KEYS:
        if is_state(obj.get(key)):
            return obj[key], key
    found = [k for k, v in obj.items() if is_state(v)]
    if len(found) == 1:
        return obj[found[0]], found[0]
    return None, None


def _weights_only_detail(text: str) -> str:
    """The line of a weights_only failure that says what went wrong (PyTorch wraps it in advice)."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("WeightsUnpickler error:"):
            line = line.split(":", 1)[1].strip()
        if line and not line.startswith(("Weights only load failed", "(1)", "(2)", "Check the documentation",
                                         "Please file an issue", "In PyTorch")):
            return line[:200]
    return error_head(Exception(text))
