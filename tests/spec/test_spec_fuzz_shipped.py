"""Grammar-aware fuzzing of the shipped specs (issue 13), in the slow suite.

Each example takes a shipped spec (or one of the libraries it imports), parses it as YAML data and
mutates the tree where the spec language has meaning: graph entries get `repeat:` and `when:`,
references point at other ids or at nothing, ops are swapped for other ops, params get
expressions that embed each other, numbers become huge, negative, non-finite, text becomes long
or full of terminal escapes, imports point at devices and outside the folder, keys appear and
disappear. The mutated files are checked by `archspec validate` in ONE worker process that runs
with its address space capped.

Asserted for every example: exit status 0 or 2, never a traceback or "internal error", at most
TIME_CAP_S seconds; the worker never exceeds MEMORY_CAP (RLIMIT_AS: an allocation past it is a
MemoryError, reported as a failure) and its peak RSS stays under RSS_CAP_MB.
Budget: EXAMPLES examples (hypothesis, derandomized: the same examples every run).
"""
from __future__ import annotations

import json
import math
import os
import resource
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
EXAMPLES = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "600"))
TIME_CAP_S = 10.0
MEMORY_CAP = 3 * 2**30  # the worker's address space (RLIMIT_AS)
RSS_CAP_MB = 1024

TOPS = sorted(p.name for p in SPECS.glob("*.yaml"))
LIBS = sorted(p.name for p in (SPECS / "lib").glob("*.yaml"))
OPS = ["conv", "add", "concat", "upsample", "act", "maxpool", "avgpool", "global_avgpool", "dense", "flatten",
       "batchnorm", "dropout", "pad", "softmax", "argmax", "reshape", "permute", "pixel_shuffle", "identity",
       "conv_transpose", "groupnorm", "layernorm", "adaptive_avgpool", "sub", "mul", "nope"]
ESC = "\x1b]0;title\x07\x1b]52;c;cm0gLXJm\x07\x9b2J"
VALUES = [0, 1, -1, 2, 3, 7, 64, 1000, 2**31, 2**63, 10**30, -(10**12), 1.5, 1e308, -1e-300, math.nan, math.inf,
          -math.inf, True, False, None, "", "x" * 5000, ESC, "relu", "bilinear", "${1 / 0}", "${nope}",
          "${2 ** 64}", "${'a' + 'b'}", "${" + "(" * 120 + "1" + ")" * 120 + "}", "${in_channels * 1000000}",
          "${rep}", "${size * size * size}", "$${x}", "${", "}", [], {}, [1, 2, 3, 4], [1, 3, 100000, 100000],
          [0, 0], {"a": 1}, "archspec:lib/resnet.yaml", "../escape.yaml", "/dev/zero", "fifo.yaml", "loop.yaml",
          "lib/resnet.yaml"]
KEYS = ["id", "op", "block", "in", "repeat", "first", "when", "doc", "out", "k", "stride", "padding", "dilation",
        "groups", "act", "bn", "scale", "size", "size_of", "mode", "alpha", "eps", "momentum", "p", "fn", "axis",
        "imports", "extends", "patch", "params", "input", "outputs", "defaults", "blocks", "graph", "labels",
        "preprocess", "nope", ESC]

WORKER = r"""
import json, resource, sys, time, traceback
from typer.testing import CliRunner
from archspec.cli import app
runner = CliRunner()
for line in sys.stdin:
    job = json.loads(line)
    t0 = time.perf_counter()
    try:
        r = runner.invoke(app, job["args"], env={"COLUMNS": "200"})
        exc = r.exception if r.exception is not None and not isinstance(r.exception, SystemExit) else None
        out = {"code": r.exit_code, "output": r.output[-3000:],
               "exception": "".join(traceback.format_exception(exc))[-3000:] if exc else ""}
    except BaseException as e:  # MemoryError past the cap, anything CliRunner lets through
        out = {"code": -1, "output": "", "exception": repr(e)}
    out["seconds"] = time.perf_counter() - t0
    # VmHWM is this process's own peak; ru_maxrss would carry the pytest parent's across fork+exec
    with open("/proc/self/status") as f:
        hwm = next((int(l.split()[1]) for l in f if l.startswith("VmHWM:")), None)
    out["maxrss_mb"] = (hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
"""


class Worker:
    def __init__(self) -> None:
        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env, preexec_fn=cap)

    def run(self, args: list[str]) -> dict:
        self.proc.stdin.write(json.dumps({"args": args}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], TIME_CAP_S * 3)
        if not ready:
            self.proc.kill()
            raise AssertionError(f"archspec {' '.join(args)} did not finish in {TIME_CAP_S * 3:.0f} s")
        line = self.proc.stdout.readline()
        assert line, "the worker died (killed past its memory cap?)"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    return root


# -- mutations on the YAML tree ------------------------------------------------------------------------------

def _containers(node, path=()):
    """Every (path, container) in the tree: mappings and lists, outermost first."""
    if isinstance(node, (dict, list)):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            yield from _containers(v, path + (k,))


def _graph_entries(tree):
    found = []
    for path, c in _containers(tree):
        if path and path[-1] == "graph" and isinstance(c, list):
            found += [e for e in c if isinstance(e, dict)]
    return found


def _ids(tree):
    return [e["id"] for e in _graph_entries(tree) if isinstance(e.get("id"), str)] + ["image", "in", "nope"]


def mutate(tree, m) -> None:
    kind, a, b = m
    containers = list(_containers(tree))
    entries = _graph_entries(tree)
    _, target = containers[a % len(containers)]
    keys = list(target) if isinstance(target, dict) else list(range(len(target)))
    key = keys[b % len(keys)] if keys else None
    if kind == "value" and key is not None:
        target[key] = VALUES[b % len(VALUES)]
    elif kind == "delete" and key is not None:
        del target[key]
    elif kind == "duplicate" and isinstance(target, list) and target:
        target.insert(b % len(target), json.loads(json.dumps(target[a % len(target)], default=str)))
    elif kind == "add_key" and isinstance(target, dict):
        target[KEYS[b % len(KEYS)]] = VALUES[a % len(VALUES)]
    elif kind == "repeat" and entries:
        entries[a % len(entries)]["repeat"] = [0, 2, 17, 1000, 99_999, 10**9, "${rep}", "${size}"][b % 8]
    elif kind == "when" and entries:
        entries[a % len(entries)]["when"] = [False, True, "${false}", "${in_channels > 1}", 1, "${nope}"][b % 6]
    elif kind == "op" and entries:
        e = entries[a % len(entries)]
        e.pop("block", None)
        e["op"] = OPS[b % len(OPS)]
    elif kind == "reference" and entries:
        ids = _ids(tree)
        entries[a % len(entries)]["in"] = ids[b % len(ids)] if b % 3 else [ids[b % len(ids)], ids[a % len(ids)]]
    elif kind == "expansion":
        params = tree.setdefault("params", {}) if isinstance(tree, dict) else {}
        if isinstance(params, dict):
            params["t0"] = "abcdefghij" * (1 + a % 100)
            for i in range(1, 2 + b % 8):
                params[f"t{i}"] = "${t%d}" % (i - 1) * (2 + a % 20)
    elif kind == "import" and isinstance(tree, dict):
        tree["imports"] = [VALUES[-(1 + b % 6)], "lib/resnet.yaml"][: 1 + a % 2]
    elif kind == "extends" and isinstance(tree, dict):
        tree["extends"] = (TOPS + ["fifo.yaml", "loop.yaml", "/dev/zero"])[b % (len(TOPS) + 3)]
        ids = _ids(tree)
        tree["patch"] = {ids[a % len(ids)]: None if b % 2 else {KEYS[a % len(KEYS)]: VALUES[b % len(VALUES)]}}


MUTATION = st.tuples(st.sampled_from(["value", "delete", "duplicate", "add_key", "repeat", "when", "op",
                                      "reference", "expansion", "import", "extends"]),
                     st.integers(0, 10**6), st.integers(0, 10**6))


def _prepare(folder: Path) -> None:
    shutil.copytree(SPECS, folder, dirs_exist_ok=True)
    fifo = folder / "fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    loop = folder / "loop.yaml"
    if not os.path.lexists(loop):
        os.symlink(loop, loop)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(file=st.sampled_from(TOPS + [f"lib/{n}" for n in LIBS]), top=st.sampled_from(TOPS),
       mutations=st.lists(MUTATION, min_size=1, max_size=5),
       sets=st.lists(st.tuples(st.sampled_from(["size", "num_classes", "width", "output_stride", "nope"]),
                               st.sampled_from(["0", "-1", "nan", "1e400", "99999999", "7", ESC, "${size}"])),
                     max_size=2),
       shape=st.sampled_from([None, "1,3,64,64", "1,3,1,1", "1,3,100000,100000", "0,3,8,8", "2,3,33,47"]))
def test_mutated_shipped_specs_fail_cleanly_in_bounded_time_and_memory(worker, workspace, file, top, mutations,
                                                                       sets, shape):
    folder = workspace / "w"
    _prepare(folder)
    path = folder / file
    tree = yaml.safe_load((SPECS / file).read_text(encoding="utf-8"))
    for m in mutations:
        mutate(tree, m)
    try:
        path.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=False, width=200), encoding="utf-8")
        spec = folder / (top if file.startswith("lib/") else file)
        args = ["validate", str(spec)] + [a for k, v in sets for a in ("--set", f"{k}={v}")]
        if shape is not None:
            args = ["resolve", *args[1:], "--input-shape", shape]
        res = worker.run(args)
    finally:
        shutil.copyfile(SPECS / file, path)  # the next example starts from the shipped file
    what = f"archspec {' '.join(args)} after {mutations}:\n{res['output']}{res['exception']}"
    assert res["code"] in (0, 2), what
    assert "internal error" not in res["output"] and "Traceback" not in res["output"] + res["exception"], what
    assert res["seconds"] <= TIME_CAP_S, f"{res['seconds']:.1f} s: {what}"
    assert res["maxrss_mb"] <= RSS_CAP_MB, f"peak RSS {res['maxrss_mb']:.0f} MB: {what}"
