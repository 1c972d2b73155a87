"""The printable graph: one line per node with its op, inputs, the arguments that matter, output
shape, params and MACs; the same rows in `archspec resolve`, `build --graph` and `--json`."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, SPECS, write

import archspec
from archspec.graph.report import args_text, graph_summary, node_args


def mbv2(**overrides):
    return archspec.resolve(archspec.load(SPECS / "deeplabv3p_mobilenetv2.yaml", overrides=overrides or None))


def test_print_graph_is_one_line_per_node_with_the_arguments_that_matter():
    g = mbv2()
    text = str(g)
    lines = text.splitlines()
    assert lines[0].startswith("graph deeplabv3p_mobilenetv2: inputs image 1x3x513x513")
    body = lines[3:-2]
    assert len(body) == len(g.nodes) and all(ln.split()[0] == n.name for ln, n in zip(body, g.nodes))
    aspp6 = next(ln for ln in body if ln.startswith("aspp.b1 "))
    assert "k=3 dilation=6 bn act=relu" in aspp6 and "1x256x33x33" in aspp6 and "737,792" in aspp6
    assert lines[-1].split()[:3] == ["total", str(len(g.nodes)), "nodes"]


def test_an_edit_that_changes_no_shape_still_shows(tmp_path):
    """Other ASPP rates change no shape, params or MACs; the args column (and the JSON) still say so."""
    child = write(tmp_path, "rates.yaml", f"""\
        archspec: 1
        name: rates
        extends: {SPECS / "deeplabv3p_mobilenetv2.yaml"}
        patch:
          aspp: {{rate: 9}}
        """)
    a, b = mbv2(), archspec.resolve(archspec.load(child))
    assert [n.shape for n in a.nodes] == [n.shape for n in b.nodes] and a.total_macs == b.total_macs
    assert "dilation=6 " in args_text(a.node("aspp.b1")) and "dilation=9 " in args_text(b.node("aspp.b1"))
    assert graph_summary(b)["nodes"][[n.name for n in b.nodes].index("aspp.b1")]["args"]["dilation"] == 9


def test_filled_arguments_are_shown_only_when_chosen(tmp_path):
    spec = write(tmp_path, "s.yaml", """\
        archspec: 1
        name: s
        input: {image: [1, 8, 16, 16]}
        graph:
          - {id: a, op: conv, out: 8, k: 3}
          - {id: b, op: conv, out: 8, k: 3, padding: 0}
          - {id: c, op: conv, out: 8, k: 3, bias: false}
        """)
    g = archspec.resolve(archspec.load(spec))
    assert node_args(g.node("a")) == {"out": 8, "k": 3}  # padding 1 and bias are what the resolver fills in
    assert node_args(g.node("b"))["padding"] == 0
    assert node_args(g.node("c"))["bias"] is False


def test_json_carries_every_argument():
    nodes = {n["name"]: n for n in graph_summary(mbv2())["nodes"]}
    assert nodes["aspp.b1"]["args"]["dilation"] == 6 and nodes["aspp.b1"]["args"]["act"] == "relu"
    json.dumps(nodes)  # plain data


def test_resolve_command_prints_the_table_without_mindspore():
    r = subprocess.run([sys.executable, "-m", "archspec.cli", "resolve", "specs/deeplabv3p_mobilenetv2.yaml"],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(mbv2()).strip()
