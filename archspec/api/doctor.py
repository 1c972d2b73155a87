"""`archspec.doctor`: what this machine has that archspec's commands use, and what each command lacks.

Every probe is read-only and bounded: versions from package metadata, programs from PATH, the CPU
from /proc/cpuinfo. MindSpore and MindSpore Lite are imported in a child process (`python -c`,
with a time limit), like the profile workers: a broken install (a NumPy it was not built for, a
missing shared library, a crash on import) is reported, not fatal, and this process never imports
MindSpore.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# MindSpore 2.10 publishes wheels for these Pythons only.
MINDSPORE_PYTHONS = ((3, 10), (3, 11), (3, 12))
PROBE_TIMEOUT_S = 180.0
# The child process's probe: MindSpore (version, devices), MindSpore Lite (importable, version).
_PROBE = """
import json, sys
out = {}
try:
    import mindspore
    out["mindspore"] = {"version": mindspore.__version__}
    from archspec.runtime.host import available_devices
    out["mindspore"]["devices"] = list(available_devices())
except BaseException as e:
    out.setdefault("mindspore", {})["error"] = f"{type(e).__name__}: {e}"[:300]
try:
    import mindspore_lite
    out["lite"] = {"version": getattr(mindspore_lite, "__version__", None)}
except BaseException as e:
    out["lite"] = {"error": f"{type(e).__name__}: {e}"[:300]}
sys.stdout.write("@@doctor " + json.dumps(out) + "\\n")
"""


@dataclass
class Component:
    """One thing archspec uses: whether it is here (`found`), usable (`ok`), and how to get it."""

    name: str
    found: bool
    ok: bool
    version: str | None = None
    detail: str = ""
    fix: str = ""


@dataclass
class CommandNeeds:
    """What one command (or use of it) needs, and which of those this machine lacks."""

    command: str
    needs: list[str]
    missing: list[str]
    optional: list[str] = field(default_factory=list)  # used when present (e.g. onnxruntime to verify ONNX)
    note: str = ""

    @property
    def ready(self) -> bool:
        return not self.missing


@dataclass
class DoctorReport:
    components: list[Component]
    commands: list[CommandNeeds]

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def command(self, name: str) -> CommandNeeds:
        return next(c for c in self.commands if c.command == name)

    def to_dict(self) -> dict[str, Any]:
        return {"components": [asdict(c) for c in self.components],
                "commands": [{**asdict(c), "ready": c.ready} for c in self.commands]}


def doctor(*, probe_timeout: float = PROBE_TIMEOUT_S) -> DoctorReport:
    """Probe the machine (see the module docstring); never raises for what it finds missing."""
    components = [_python(), *_mindspore_and_lite(probe_timeout), _cann(), _program("converter_lite"),
                  _program("atc"), _graphviz(), _package("onnxruntime"), _package("onnx"), _torch(), _cpu_isa(),
                  _blas()]
    return DoctorReport(components, _commands({c.name: c for c in components}))


# --------------------------------------------------------------------------- components


def _python() -> Component:
    v = sys.version_info[:2]
    ok = v in MINDSPORE_PYTHONS
    return Component("python", True, ok, platform.python_version(), sys.executable,
                     "" if ok else "MindSpore 2.10 has wheels for Python 3.10-3.12 only: use one of those")


def _mindspore_and_lite(timeout: float) -> list[Component]:
    probe = _run_probe(timeout)
    ms = probe.get("mindspore") or {}
    lite = probe.get("lite") or {}
    if "version" in ms:
        devices = ms.get("devices")
        detail = ("devices: " + (", ".join(devices) or "none")) if devices is not None else ms.get("error", "")
        mindspore = Component("mindspore", True, bool(devices), ms["version"], detail,
                              "" if devices else "MindSpore imports but reports no device")
    else:
        installed = _dist_version("mindspore")
        why = ms.get("error") or probe.get("error", "")
        mindspore = Component("mindspore", installed is not None, False, installed,
                              ("installed but does not import: " + why) if installed else "not installed",
                              "pip install mindspore==2.10.0 (Python 3.10-3.12)")
    if "version" in lite:
        lite_c = Component("mindspore_lite", True, True, lite["version"] or _dist_version("mindspore-lite"),
                           "importable")
    else:
        installed = _dist_version("mindspore-lite") or _dist_version("mindspore_lite")
        lite_c = Component("mindspore_lite", installed is not None, False, installed,
                           ("installed but does not import: " + lite.get("error", "")) if installed else
                           "not installed",
                           "for the board: the MindSpore Lite wheel for its Python and CANN, from MindSpore's download "
                           "site (the package index has only Lite 2.0, for Python 3.7, which cannot read a MindSpore "
                           "2.10 MindIR); see docs/DEPLOY.md")
    return [mindspore, lite_c]


def _run_probe(timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # archspec's parent folder, for the child's import
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("GLOG_v", "3")
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"importing MindSpore took longer than {timeout:g} s"}
    for ln in r.stdout.splitlines():
        if ln.startswith("@@doctor "):
            return json.loads(ln[len("@@doctor "):])
    tail = " ".join(r.stderr.strip().splitlines()[-2:])[:300]
    return {"error": f"the probe process exited with status {r.returncode}" + (f": {tail}" if tail else "")}


def _cann() -> Component:
    """CANN (the Ascend toolkit, with ACL): its install folder and the NPU's management tool."""
    names = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_HOME")
    home = next((os.environ[v] for v in names if os.environ.get(v)), None)
    candidates = [Path(home)] if home else []
    candidates += [Path("/usr/local/Ascend/ascend-toolkit/latest"), Path("/usr/local/Ascend/latest")]
    folder = next((p for p in candidates if p.is_dir()), None)
    npu_smi = shutil.which("npu-smi")
    version = _cann_version(folder) if folder else None
    parts = [f"toolkit {folder}" if folder else "no toolkit folder (ASCEND_HOME_PATH unset, none in /usr/local/Ascend)",
             f"npu-smi {npu_smi}" if npu_smi else "no npu-smi on PATH"]
    found = folder is not None or npu_smi is not None
    return Component("cann", found, folder is not None and npu_smi is not None, version, "; ".join(parts),
                     "" if found else "only on an Ascend machine: the board image ships CANN (source "
                     "<toolkit>/set_env.sh); see docs/DEPLOY.md")


def _cann_version(folder: Path) -> str | None:
    """CANN's version from its install folder: `version.info` files hold `Version=8.0.RC2`,
    `version.cfg` lines like `runtime_running_version=[7.0.0.5.242:7.0.RC1]` (the part after `:`)."""
    for name in ("version.info", "runtime/version.info", "compiler/version.info", "version.cfg"):
        p = folder / name
        try:
            text = p.read_text(encoding="utf-8", errors="replace")[:4096] if p.is_file() else ""
        except OSError:
            continue
        m = re.search(r"^\s*version\s*=\s*(\S+)", text, re.M | re.I) or re.search(
            r"_version\s*=\s*\[[^:\]]*:([^\]]+)\]", text)
        if m:
            return m.group(1)
    return None


def _program(name: str) -> Component:
    path = shutil.which(name)
    fixes = {"converter_lite": "part of the MindSpore Lite package for the board (route A in docs/DEPLOY.md)",
             "atc": "part of CANN on the board (route B in docs/DEPLOY.md)"}
    return Component(name, path is not None, path is not None, None, path or "not on PATH",
                     "" if path else fixes.get(name, ""))


def _graphviz() -> Component:
    path = shutil.which("dot")
    version = None
    if path:
        try:
            r = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
            m = re.search(r"version\s+(\S+)", r.stderr + r.stdout)
            version = m.group(1) if m else None
        except (OSError, subprocess.TimeoutExpired):
            pass
    return Component("graphviz", path is not None, path is not None, version, path or "no 'dot' on PATH",
                     "" if path else "install Graphviz (e.g. apt-get install graphviz) to draw .svg/.png/.pdf")


def _package(name: str) -> Component:
    version = _dist_version(name)
    found = version is not None and importlib.util.find_spec(name) is not None
    return Component(name, found, found, version, "" if found else "not installed",
                     "" if found else f"pip install {name}")


def _torch() -> Component:
    version = _dist_version("torch")
    if version is None or importlib.util.find_spec("torch") is None:
        return Component("torch", False, False, None, "not installed",
                         "pip install torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu "
                         "(the CPU build; plain `pip install torch` fetches several GB of CUDA libraries)")
    cuda = _torch_cuda(version)
    detail = f"CUDA build (CUDA {cuda})" if cuda else "CPU build"
    return Component("torch", True, True, version, detail,
                     "archspec needs only the CPU build (several GB smaller)" if cuda else "")


def _torch_cuda(version: str) -> str | None:
    """The CUDA version torch was built for, read without importing it (None: a CPU build)."""
    spec = importlib.util.find_spec("torch")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        p = Path(folder) / "version.py"
        try:
            m = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", p.read_text(encoding="utf-8"), re.M)
        except OSError:
            continue
        return m.group(1) if m else None
    requires = importlib.metadata.requires("torch") or []
    return "unknown" if any(r.startswith("nvidia-") for r in requires) else None


def _cpu_isa() -> Component:
    from archspec.runtime.isa import DISABLE_VAR, ENV_VAR, FIX_VALUE, cpu_flags

    flags = cpu_flags()
    machine = platform.machine()
    if not flags:
        return Component("cpu_isa", True, True, machine, "not x86: the oneDNN ISA fix does not apply")
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE/AVX"
    user = os.environ.get(ENV_VAR)
    if user and not os.environ.get(f"ARCHSPEC_SET_{ENV_VAR}"):
        fix = f"{ENV_VAR}={user} set by you (kept)"
    elif os.environ.get(DISABLE_VAR, "") not in ("", "0"):
        fix = f"the ISA fix is off ({DISABLE_VAR} is set): slow reference 3x3 convolutions" if isa == "AVX-512" \
            else "the ISA fix is off"
    elif isa == "AVX-512":
        fix = f"commands that run models set {ENV_VAR}={FIX_VALUE} (oneDNN's fast gemm convolutions)"
    else:
        fix = "no AVX-512: the oneDNN ISA fix is not needed"
    return Component("cpu_isa", True, True, isa, f"{machine}; {fix}")


def _blas() -> Component:
    from archspec.runtime.isa import numpy_blas_core

    core = numpy_blas_core()
    forced = os.environ.get("OPENBLAS_CORETYPE")
    detail = ("NumPy's OpenBLAS kernels" if core else "NumPy does not use a bundled OpenBLAS") + (
        f"; OPENBLAS_CORETYPE={forced}" if forced else "")
    slow = core is not None and core.lower() in ("prescott", "katmai", "coppermine", "northwood", "banias", "atom",
                                                 "core2", "penryn", "dunnington", "nehalem")
    return Component("numpy_blas", core is not None, not slow, core, detail,
                     "NumPy's BLAS runs a pre-AVX2 core on this CPU (slow NumPy linear algebra): set "
                     "OPENBLAS_CORETYPE to the CPU's (e.g. Haswell, SkylakeX)" if slow else "")


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- what each command needs


def _commands(have: dict[str, Component]) -> list[CommandNeeds]:
    devices = have["mindspore"].detail.removeprefix("devices: ").split(", ") if have["mindspore"].ok else []
    ok = {name: c.ok for name, c in have.items()}
    ok["ascend_device"] = "Ascend" in devices  # what MindSpore reports, not just CANN's presence

    def need(command: str, needs: list[str], optional: tuple[str, ...] = (), note: str = "") -> CommandNeeds:
        return CommandNeeds(command, list(needs), [n for n in needs if not ok[n]], list(optional), note)

    return [
        need("validate, schema, ops, specs, diff", ["python"], note="no MindSpore needed"),
        need("graph --out FILE.dot", ["python"]),
        need("graph --out FILE.svg|.png|.pdf", ["python", "graphviz"]),
        need("build, compile, predict, profile, train, eval (CPU)", ["python", "mindspore"]),
        need("export --format mindir", ["python", "mindspore"]),
        need("export --format onnx", ["python", "mindspore"], ("onnxruntime",),
             "without onnxruntime the ONNX file is written unverified (the command says so)"),
        need("export --format air; --device Ascend", ["python", "mindspore", "ascend_device", "cann"]),
        need("weights import (.pth/.pt/.bin)", ["python", "torch"],
             note=".safetensors, .npz and .ckpt need no PyTorch"),
        need("the test suite (pip install '.[test,peers]')", ["python", "mindspore", "torch", "onnx", "onnxruntime"]),
        need("on the board: MindIR -> converter_lite (route A)", ["mindspore_lite", "converter_lite", "cann"]),
        need("on the board: ONNX -> atc -> .om (route B)", ["atc", "cann"]),
    ]
