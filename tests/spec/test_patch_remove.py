"""Children of a spec. `patch: {id: null}` removes a node of the parent: its readers read its one
input instead; what cannot be rerouted (several inputs, an output) is a positioned error naming the
readers. A patch that breaks an entry is reported at the patch; a new param that is a typo of an
inherited one is reported too."""
from __future__ import annotations

from pathlib import Path


import archspec
from conftest import assert_at, load_resolve, one_error, pos, write

REPO = Path(__file__).resolve().parents[2]

BASE = """\
archspec: 1
name: base
input: {x: [1, 3, 16, 16]}
graph:
  - {id: s1, op: conv, out: 8, k: 3}
  - {id: s2, op: conv, out: 8, k: 3, stride: 2}
  - {id: a, op: conv, in: s2, out: 8, k: 1}
  - {id: b, op: conv, in: s2, out: 8, k: 1}
  - {id: cat, op: concat, in: [a, b]}
  - {id: head, op: conv, out: 4, k: 1}
  - {id: up, op: upsample, mode: nearest, size_of: x}
"""


def child(tmp_path: Path, patch: str, extra: str = "") -> Path:
    write(tmp_path, "base.yaml", BASE)
    return write(tmp_path, "child.yaml", f"archspec: 1\nname: child\nextends: base.yaml\n{extra}patch:\n{patch}")


def test_removed_node_hands_its_input_to_its_readers(tmp_path):
    g = load_resolve(child(tmp_path, "  s2: null\n"))
    assert [n.name for n in g.nodes] == ["s1", "a", "b", "cat", "head", "up"]
    assert g.node("a").inputs == ["s1"] and g.node("b").inputs == ["s1"]
    assert g.node("a").shape == (1, 8, 16, 16)  # s1's size: the stride-2 conv is gone


def test_implicit_reader_and_chains_of_removed_nodes(tmp_path):
    g = load_resolve(child(tmp_path, "  s1: null\n  s2: null\n  up: {size_of: x}\n"))
    assert g.node("a").inputs == ["x"]
    g = load_resolve(child(tmp_path, "  cat: null\n  head: null\n  up: {in: a}\n"))  # nothing reads cat now
    assert [n.name for n in g.nodes] == ["s1", "s2", "a", "b", "up"] and g.outputs == ["up"]


def test_several_inputs_read_by_a_live_node_is_an_error(tmp_path):
    p = child(tmp_path, "  cat: null\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "cat: null"))
    assert e.path == "patch.cat"
    assert "patch removes 'cat', which reads 2 inputs" in e.message
    assert f"'head' ({tmp_path / 'base.yaml'}:10:5)" in e.message  # the reader, where it is written
    assert "head: {in: a}" in e.hint
    # through a removed one-input reader, the live node behind it is named
    e = one_error(child(tmp_path, "  cat: null\n  head: null\n"))
    assert "'up'" in e.message and "'head'" not in e.message


def test_removed_output_is_an_error(tmp_path):
    p = child(tmp_path, "  up: null\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "up: null"))
    assert "the last entry of the graph and so the spec's output" in e.message and "outputs:" in e.hint
    p = child(tmp_path, "  head: null\n", extra="outputs: [head, up]\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "head, up"))
    assert "output 'head' is a node that patch removes" in e.message
    g = load_resolve(child(tmp_path, "  up: null\n", extra="outputs: [head]\n"))
    assert g.outputs == ["head"]


def test_null_patch_errors(tmp_path):
    p = child(tmp_path, "  nope: null\n")
    e = one_error(p)
    assert "patch names node 'nope'" in e.message
    write(tmp_path, "grandchild.yaml", "archspec: 1\nname: gc\nextends: child.yaml\npatch:\n  s2: {k: 5}\n")
    child(tmp_path, "  s2: null\n")
    e = one_error(tmp_path / "grandchild.yaml")
    assert "which the parent spec removes" in e.message and "child.yaml:5:3" in e.message
    e = one_error(child(tmp_path, "  s2: 5\n"))
    assert "valid dictionary" in e.message  # a number is not a patch; null and mappings are


def test_removing_block_instances_of_a_shipped_spec(tmp_path):
    deeplab = REPO / "specs" / "deeplabv3p.yaml"
    base = archspec.resolve(archspec.load(deeplab, {"size": 65}))
    spec = write(tmp_path, "no_aspp.yaml", f"archspec: 1\nname: no_aspp\nextends: {deeplab}\n"
                                           "params: {size: 65}\npatch:\n  aspp: null\n")
    g = load_resolve(spec)
    assert not any(n.name.startswith("aspp.") for n in g.nodes)
    assert g.node("decoder.up").inputs == ["layer4.2.relu"]  # the decoder reads layer4 directly
    assert g.node("decoder.cat").shape[1] == 48 + 2048
    assert g.total_params < base.total_params
    spec = write(tmp_path, "trunk.yaml", f"archspec: 1\nname: trunk\nextends: {deeplab}\n"
                                         "params: {size: 65}\npatch:\n  aspp: null\n  decoder: null\n"
                                         "  out: {in: layer4}\n")
    g = load_resolve(spec)  # the decoder reads two inputs, but nothing reads the decoder any more
    assert g.node("out").inputs == ["layer4.2.relu"] and g.node("out").shape == (1, 2048, 65, 65)


def test_an_entry_broken_by_a_patch_is_reported_at_the_patch(tmp_path):
    write(tmp_path, "base.yaml", "archspec: 1\nname: base\ninput: {x: [1, 3, 8, 8]}\ngraph:\n"
                                 "  - {id: a, op: conv, out: 4, k: 3}\n  - {id: b, op: conv, out: 4, k: 3}\n"
                                 "  - {id: cat, op: concat, in: [a, b]}\n")
    drop = write(tmp_path, "drop.yaml", "archspec: 1\nname: c\nextends: base.yaml\npatch:\n  b: {k: null}\n")
    e = one_error(drop)
    assert "needs argument 'k'" in e.message
    assert_at(e, drop, *pos(drop, "b: {k"))
    loop = write(tmp_path, "loop.yaml", "archspec: 1\nname: c\nextends: base.yaml\npatch:\n  b: {in: cat}\n")
    e = one_error(loop)
    assert "cycle" in e.message
    assert_at(e, loop, *pos(loop, "b: {in"))


def test_a_new_param_that_reads_like_an_inherited_one_and_is_unused_is_a_typo(tmp_path):
    write(tmp_path, "base.yaml", "archspec: 1\nname: base\nparams: {w: 4}\ninput: {x: [1, 3, 8, 8]}\ngraph:\n"
                                 '  - {id: a, op: conv, out: "${w}", k: 3}\n')
    typo = write(tmp_path, "typo.yaml", "archspec: 1\nname: c\nextends: base.yaml\nparams: {ww: 2}\n")
    e = one_error(typo)
    assert "'ww' is new in this spec and nothing uses it" in e.message and "did you mean 'w'" in e.hint
    used = write(tmp_path, "used.yaml", "archspec: 1\nname: c\nextends: base.yaml\nparams: {ww: 2}\n"
                                        'patch:\n  a: {out: "${ww}"}\n')
    assert load_resolve(used).node("a").shape[1] == 2  # a new param the child uses is fine
    other = write(tmp_path, "other.yaml", "archspec: 1\nname: c\nextends: base.yaml\nparams: {note: 1}\n")
    assert load_resolve(other).node("a").shape[1] == 4  # unused but like no inherited param: allowed


def test_extending_a_block_library_is_an_error_at_the_extends_line(tmp_path):
    path = write(tmp_path, "s.yaml", "archspec: 1\nname: c\nextends: archspec:lib/resnet.yaml\n")
    e = one_error(path)
    assert "has no graph (a block library)" in e.message and "imports:" in e.hint
    assert_at(e, path, *pos(path, "archspec:lib"))


def test_importing_a_whole_spec_without_a_graph_says_to_extend_it(tmp_path):
    """The mirror mistake: `imports:` of a spec meant as `extends:` leaves the graph empty."""
    path = write(tmp_path, "s.yaml", "archspec: 1\nname: c\nimports: [archspec:unet.yaml]\n")
    e = one_error(path)
    assert "is imported for its blocks only, not its graph" in e.message
    assert "extends: archspec:unet.yaml" in e.hint
    assert_at(e, path, *pos(path, "archspec:unet"))
    with_graph = write(tmp_path, "t.yaml", "archspec: 1\nname: c\nimports: [archspec:unet.yaml]\n"
                       "input: {x: [1, 3, 16, 16]}\ngraph:\n  - {op: act, fn: relu}\n")
    assert len(load_resolve(with_graph).nodes) == 1  # importing a spec for its blocks stays allowed
