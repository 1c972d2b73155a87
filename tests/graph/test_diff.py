"""`archspec diff`: what an edit changed between two resolved graphs."""
from __future__ import annotations

import json
from pathlib import Path

import archspec
from archspec.graph.diff import diff
from conftest import write

REPO = Path(__file__).resolve().parents[2]
DEEPLAB = REPO / "specs" / "deeplabv3p.yaml"
SMALL = {"size": 65}

BASE = """\
archspec: 1
name: base
input: {x: [1, 3, 16, 16]}
defaults: {conv: {out: 8, k: 1}}
graph:
  - {id: stem, op: conv, k: 3}
  - {id: s2, op: conv, k: 3}
  - {id: a, op: conv, in: s2}
  - {id: b, op: conv, in: s2}
  - {id: cat, op: concat, in: [a, b]}
  - {id: head, op: conv, out: 4}
"""


def graph(path, overrides=None):
    return archspec.resolve(archspec.load(path, overrides), fuse=False)


def test_identical_specs_report_no_change():
    d = diff(graph(DEEPLAB, SMALL), graph(DEEPLAB, SMALL))
    assert d.same and d.nodes == () and d.spec_params == {} and d.outputs is None
    assert d.lines() == [f"{DEEPLAB} and {DEEPLAB} resolve to the same graph"]
    assert json.loads(json.dumps(d.to_json()))["same"] is True


def test_aspp_rate_change(tmp_path):
    child = write(tmp_path, "rate12.yaml", f"archspec: 1\nname: rate12\nextends: {DEEPLAB}\n"
                                           "patch:\n  aspp: {rate: 12}\n")
    d = diff(graph(DEEPLAB, SMALL), graph(child, SMALL))
    assert not d.same
    assert [(c.kind, c.name, c.args["dilation"]) for c in d.nodes] == [
        ("changed", "aspp.b1", (6, 12)), ("changed", "aspp.b2", (12, 24)), ("changed", "aspp.b3", (18, 36))]
    assert all(set(c.args) == {"dilation", "padding"} and c.shape is None and c.params_delta == 0 for c in d.nodes)
    assert d.params[0] == d.params[1] and d.counts() == {"added": 0, "removed": 0, "renamed": 0, "changed": 3}
    assert "~ aspp.b1 (conv) changed; dilation: 6 -> 12; padding: [6, 6] -> [12, 12]" in d.lines()
    node = d.to_json()["nodes"][0]
    assert node["args"]["dilation"] == {"old": 6, "new": 12} and node["params"]["delta"] == 0


def test_removed_node_and_its_rerouted_readers(tmp_path):
    base = write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "archspec: 1\nname: child\nextends: base.yaml\npatch:\n  s2: null\n")
    a, b = graph(base), graph(child)
    d = diff(a, b)
    s2 = a.node("s2")
    assert [(c.kind, c.name) for c in d.nodes] == [("removed", "s2"), ("changed", "a"), ("changed", "b")]
    removed = d.nodes[0]
    assert removed.params == (s2.params, 0) and removed.macs_delta == -s2.macs and removed.shape == (s2.shape, None)
    assert d.nodes[1].inputs == (["s2"], ["stem"]) and d.nodes[1].args == {}
    assert d.params == (a.total_params, a.total_params - s2.params)
    data = json.loads(json.dumps(d.to_json()))
    assert data["counts"] == {"added": 0, "removed": 1, "renamed": 0, "changed": 2}
    assert data["params"]["delta"] == -s2.params and data["macs"]["delta"] == -s2.macs
    assert d.lines()[-1].startswith("1 removed, 2 changed; params ")


def test_renamed_by_position_added_and_shape_changes(tmp_path):
    a = graph(write(tmp_path, "a.yaml", BASE))
    b = graph(write(tmp_path, "b.yaml", BASE.replace("id: stem", "id: conv_in").replace("in: s2}", "in: s2, out: 16}")
                    + "  - {id: extra, op: act, fn: relu}\n"))
    d = diff(a, b)
    by_name = {c.name: c for c in d.nodes}
    assert by_name["conv_in"].kind == "renamed" and by_name["conv_in"].old_name == "stem"
    assert by_name["conv_in"].args == {} and by_name["conv_in"].params_delta == 0
    assert "s2" not in by_name  # it reads the renamed node: not a change
    assert by_name["a"].args == {"out": (8, 16)} and by_name["a"].shape == ((1, 8, 16, 16), (1, 16, 16, 16))
    assert by_name["cat"].shape[1] == (1, 32, 16, 16)
    assert by_name["extra"].kind == "added" and d.outputs == (["head"], ["extra"])
