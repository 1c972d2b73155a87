"""Reading weight files into name -> NumPy array, without running code from them.

Every reader is bounded and refuses what it cannot read with one positioned message:
  * `.pth` / `.pt` / `.bin`: PyTorch files, through `torch.load(path, map_location="cpu",
    weights_only=True)`, which refuses pickles holding anything but tensors and plain containers
    (it never runs code from the file). A training checkpoint holding the state_dict under a key
    (`state_dict`, `model_state`, `model`, ...) is unwrapped.
  * `.safetensors`: through the `safetensors` package (a MindSpore dependency); no PyTorch needed.
  * `.npz`: NumPy archives (`allow_pickle=False`); no PyTorch needed.
MindSpore `.ckpt` files are read by `archspec.weights.checkpoint`; `archspec.weights.sources`
picks the reader by the file's suffix.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from archspec.errors import Location, SpecError, error_head

_STATE_KEYS = ("state_dict", "model_state", "model_state_dict", "model", "net", "module", "params", "weights")


def check_readable(p: Path, shown: str, option: str, what: str) -> None:
    if not p.exists():
        raise SpecError(f"{what} file not found", Location(shown), hint=f"check the path given to {option}")
    if p.is_dir():
        raise SpecError(f"a folder, not a {what} file", Location(shown),
                        hint=f"give {option} the file itself")
    if not os.access(p, os.R_OK):
        raise SpecError("not readable (permissions)", Location(shown))


def read_safetensors(p: Path, shown: str) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError:  # pragma: no cover - safetensors comes with MindSpore
        raise SpecError("reading .safetensors needs the 'safetensors' package", Location(shown),
                        hint="pip install safetensors") from None
    try:
        arrays = load_file(str(p))
    except Exception as e:  # noqa: BLE001 - SafetensorError, OSError, a dtype NumPy lacks
        if "bf16" in str(e).lower() or "bfloat16" in str(e).lower():
            arrays = _read_safetensors_torch(p, shown, e)
        else:
            raise SpecError(f"not a readable .safetensors file: it is corrupted, truncated or uses a data "
                            f"type NumPy lacks ({error_head(e)})", Location(shown)) from None
    if not arrays:
        raise SpecError("the file holds no tensors", Location(shown))
    return dict(arrays)


def _read_safetensors_torch(p: Path, shown: str, first: BaseException) -> dict[str, np.ndarray]:
    """bfloat16 .safetensors: NumPy has no bfloat16, so read through PyTorch when it is installed."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise SpecError(f"the file holds bfloat16 tensors, which need PyTorch to read ({error_head(first)})",
                        Location(shown), hint="install PyTorch, or save the weights as float32") from None
    try:
        return {k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in load_file(str(p)).items()}
    except Exception as e:  # noqa: BLE001
        raise SpecError(f"not a readable .safetensors file ({error_head(e)})", Location(shown)) from None


def read_torch(p: Path, shown: str, notes: list[str]) -> dict[str, np.ndarray]:
    try:
        import torch
    except ImportError:
        raise SpecError("reading a PyTorch file needs PyTorch, which is not installed here", Location(shown),
                        hint="pip install 'archspec[peers]' (CPU PyTorch), or save the state_dict as .safetensors "
                             "where PyTorch is installed: safetensors.torch.save_file(model.state_dict(), "
                             "'weights.safetensors')") from None
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
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
        raise SpecError(f"not a readable PyTorch file: it is corrupted, truncated or of another format "
                        f"({error_head(e)})", Location(shown), hint="check that the download or copy completed") from None
    state, key = _find_state_dict(obj, torch)
    if state is None:
        keys = ", ".join(repr(k) for k in list(obj)[:10]) if isinstance(obj, Mapping) else type(obj).__name__
        raise SpecError(f"the file holds no state_dict (a mapping of names to tensors); found {keys}", Location(shown),
                        hint="save model.state_dict() in PyTorch, or pick the entry that holds it")
    if key is not None:
        notes.append(f"used the {key!r} entry of the checkpoint (other entries, e.g. optimizer state, are not weights)")
    arrays: dict[str, np.ndarray] = {}
    for name, t in state.items():
        if t.is_quantized or t.is_sparse or t.is_complex():
            raise SpecError(f"tensor '{name}' is {'quantized' if t.is_quantized else 'sparse or complex'}; "
                            f"only dense real tensors can be imported", Location(shown))
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


def read_npz(p: Path, shown: str) -> dict[str, np.ndarray]:
    try:
        with np.load(str(p), allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a single .npy array, not an .npz archive of named arrays")
            return {k: np.array(data[k]) for k in data.files}
    except Exception as e:  # noqa: BLE001 - BadZipFile, ValueError (object arrays need pickle), OSError
        raise SpecError(f"not a readable .npz archive of arrays: it is corrupted, truncated, holds "
                        f"Python objects or is of another format ({error_head(e)})", Location(shown)) from None
