"""Loading specs that are right: params and overrides, imports, extends and patch, defaults,
blocks, references, repeats, skipped entries, inputs and outputs; and the shipped specs."""
from __future__ import annotations

import pytest
from conftest import HEAD, SPECS, catch, find, load_resolve, write

import archspec
from archspec import load, resolve


def names(graph) -> list[str]:
    return [n.name for n in graph.nodes]


# ----------------------------------------------------------------------------- params
PARAMS = HEAD + """\
params:
  num_classes: 10
  width: 1.0
  edge: false
  tag: abc
  output_stride: {default: 16, choices: [8, 16], doc: input size / feature size}
  depth: {default: 2, min: 1, max: 4}
  ratio: {type: float, default: 0.5, min: 0.0, max: 1.0}
  os16: "${output_stride == 16}"
  half: "${num_classes // 2}"
graph:
  - {id: c1, op: conv, out: "${num_classes * 2}", k: 3, stride: "${1 if os16 else 2}"}
"""


def test_params_typed_by_defaults(tmp_path):
    spec = load(write(tmp_path, "p.yaml", PARAMS))
    assert spec.values == {"num_classes": 10, "width": 1.0, "edge": False, "tag": "abc", "output_stride": 16,
                           "depth": 2, "ratio": 0.5, "os16": True, "half": 5}
    assert {n: p.type for n, p in spec.params.items() if n not in ("os16", "half")} == {
        "num_classes": "int", "width": "float", "edge": "bool", "tag": "str", "output_stride": "int",
        "depth": "int", "ratio": "float"}
    assert spec.params["output_stride"].choices == [8, 16]
    assert (spec.params["depth"].min, spec.params["depth"].max) == (1, 4)


def test_set_overrides_are_parsed_by_param_type(tmp_path):
    path = write(tmp_path, "p.yaml", PARAMS)
    spec = load(path, overrides={"num_classes": "19", "width": "0.5", "edge": "true", "tag": "xyz",
                                 "output_stride": "8", "depth": " 4 "}, override_source="--set")
    v = spec.values
    assert v["num_classes"] == 19 and type(v["num_classes"]) is int
    assert v["width"] == 0.5 and type(v["width"]) is float
    assert v["edge"] is True
    assert v["tag"] == "xyz"
    assert v["output_stride"] == 8 and v["depth"] == 4
    # derived params see the overridden values
    assert v["os16"] is False and v["half"] == 9
    for text, want in [("yes", True), ("off", False), ("False", False), ("1", True)]:
        assert load(path, overrides={"edge": text}, override_source="--set").values["edge"] is want


def test_python_overrides_are_typed(tmp_path):
    path = write(tmp_path, "p.yaml", PARAMS)
    spec = load(path, overrides={"num_classes": 19, "width": 2, "edge": True, "output_stride": 8})
    assert spec.values["num_classes"] == 19
    assert spec.values["width"] == 2.0 and type(spec.values["width"]) is float  # an int is a fine float
    assert spec.values["os16"] is False
    # in Python, a string is not parsed as a number
    err = find(catch(load, path, overrides={"num_classes": "19"}), "'num_classes' is int")
    assert err.loc.file == "overrides" and err.loc.line == 0 and err.path == "params.num_classes"


def test_derived_params_drive_args(tmp_path):
    path = write(tmp_path, "p.yaml", PARAMS)
    g = load_resolve(path)
    assert [(n.name, n.shape) for n in g.nodes] == [("c1", (1, 20, 32, 32))]
    g = load_resolve(path, {"output_stride": "8", "num_classes": "3"}, override_source="--set")
    assert [(n.name, n.shape) for n in g.nodes] == [("c1", (1, 6, 16, 16))]
    assert g.params["os16"] is False


def test_required_param_set_from_outside(tmp_path):
    path = write(tmp_path, "r.yaml", HEAD + """\
params:
  n: {type: int, min: 1}
graph:
  - {op: conv, out: "${n}", k: 1}
""")
    assert load(path, overrides={"n": "4"}, override_source="--set").values == {"n": 4}
    g = load_resolve(path, {"n": 7})
    assert g.nodes[0].shape == (1, 7, 32, 32)


def test_expressions_in_args_and_inputs(tmp_path):
    path = write(tmp_path, "e.yaml", """\
archspec: 1
name: e
params: {size: 64, width: 0.5, act_fn: relu6}
input: {image: [1, 3, "${size}", "${size // 2}"]}
graph:
  - {id: c, op: conv, out: "${make_divisible(32 * width, 8)}", k: 3, stride: 2, act: "${act_fn}"}
  - {id: u, op: upsample, mode: bilinear, scale: "${2.0}"}
""")
    g = load_resolve(path)
    assert g.inputs == {"image": (1, 3, 64, 32)}
    assert g.node("c").shape == (1, 16, 32, 16)
    assert g.node("c").args.act == "relu6"
    assert g.node("u").shape == (1, 16, 64, 32)


# ----------------------------------------------------------------------------- imports
def test_imports_relative_and_nested_with_lexical_defaults(tmp_path):
    write(tmp_path, "lib/inner.yaml", """\
archspec: 1
name: inner
defaults:
  conv: {bn: true, act: relu}
blocks:
  unit:
    params: {out: {type: int}}
    graph:
      - {id: conv, op: conv, out: "${out}", k: 3}
""")
    write(tmp_path, "lib/outer.yaml", """\
archspec: 1
name: outer
imports: [inner.yaml]
blocks:
  pair:
    params: {out: {type: int}, stride: 1}
    graph:
      - {id: a, block: unit, out: "${out}"}
      - {id: b, op: conv, out: "${out}", k: 3, stride: "${stride}"}
""")
    main = write(tmp_path, "main.yaml", HEAD + """\
imports: [lib/outer.yaml]
defaults:
  conv: {bn: false, act: sigmoid}
graph:
  - {id: p, block: pair, out: 8, stride: 2}
  - {id: tail, op: conv, out: 4, k: 1}
""")
    spec = load(main)
    assert set(spec.blocks) == {"pair", "unit"}
    assert [p.replace("\\", "/").split("/")[-1] for p in spec.files] == ["main.yaml", "outer.yaml", "inner.yaml"]
    g = resolve(spec, fuse=False)
    assert names(g) == ["p.a.conv", "p.b", "tail"]
    a, b, tail = g.nodes
    # inner.yaml's block uses inner.yaml's defaults
    assert (a.args.bn, a.args.act, a.shape, a.params) == (True, "relu", (1, 8, 32, 32), 8 * 3 * 9 + 2 * 8)
    # outer.yaml has no defaults: its block sees none, not the importing spec's
    assert (b.args.bn, b.args.act, b.shape, b.params) == (False, None, (1, 8, 16, 16), 8 * 8 * 9 + 8)
    # the spec's own nodes use the spec's defaults
    assert (tail.args.bn, tail.args.act, tail.params) == (False, "sigmoid", 4 * 8 + 4)
    assert a.scope == ("p", "p.a") and a.block == "unit" and b.block == "pair"


def test_spec_blocks_use_spec_defaults_and_other_blocks(tmp_path):
    path = write(tmp_path, "b.yaml", HEAD + """\
defaults:
  conv: {bn: true, act: relu}
blocks:
  cba:
    params: {out: {type: int}, k: 3}
    graph:
      - {id: conv, op: conv, out: "${out}", k: "${k}"}
  double:
    params: {out: {type: int}}
    graph:
      - {id: first, block: cba, out: "${out}"}
      - {id: second, block: cba, out: "${out * 2}", k: 1}
graph:
  - {id: d, block: double, out: 4}
""")
    g = load_resolve(path)
    assert names(g) == ["d.first.conv", "d.second.conv"]
    assert [n.shape for n in g.nodes] == [(1, 4, 32, 32), (1, 8, 32, 32)]
    assert all(n.args.bn and n.args.act == "relu" for n in g.nodes)
    assert g.nodes[1].params == 8 * 4 * 1 + 2 * 8


def test_block_param_defaults_see_in_channels(tmp_path):
    path = write(tmp_path, "b.yaml", HEAD + """\
blocks:
  keep:
    params: {out: "${in_channels * 2}"}
    graph:
      - {id: conv, op: conv, out: "${out}", k: 1}
graph:
  - {id: a, block: keep}
  - {id: b, block: keep, out: 5}
""")
    g = load_resolve(path)
    assert [n.shape[1] for n in g.nodes] == [6, 5]


# ----------------------------------------------------------------------------- extends
BASE = HEAD + """\
params: {num_classes: 10, width: 8}
defaults:
  conv: {bn: true}
graph:
  - {id: stem, op: conv, out: "${width}", k: 3, stride: 2, act: relu}
  - {id: body, op: conv, out: 16, k: 3, act: relu6}
  - {id: head, op: conv, out: "${num_classes}", k: 1, bn: false}
"""


def test_extends_with_param_override_and_patch(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", """\
archspec: 1
name: child
extends: base.yaml
params: {num_classes: 5}
patch:
  stem: {stride: 1}
  body: {act: null, k: 5}
""")
    spec = load(child)
    assert spec.name == "child"
    assert spec.values == {"num_classes": 5, "width": 8}
    g = resolve(spec, fuse=False)
    stem, body, head = g.nodes
    assert stem.shape == (1, 8, 32, 32) and stem.args.stride == 1  # patched
    assert body.args.act is None and body.args.k == 5  # null removed 'act'; k replaced
    assert body.params == 16 * 8 * 25 + 2 * 16
    assert head.shape == (1, 5, 32, 32)
    # the parent is unchanged by the child's patch
    base = load_resolve(tmp_path / "base.yaml")
    assert base.node("stem").args.stride == 2 and base.node("body").args.act == "relu6"
    # the child's param keeps the parent's declaration: --set parses it as an int
    assert load(child, {"num_classes": "3"}, override_source="--set").values["num_classes"] == 3


def test_extends_merges_defaults_and_inherits_blocks(tmp_path):
    write(tmp_path, "base.yaml", HEAD + """\
defaults:
  conv: {bn: true, act: relu}
blocks:
  unit:
    graph:
      - {id: conv, op: conv, out: 4, k: 3}
graph:
  - {id: u, block: unit}
""")
    child = write(tmp_path, "child.yaml", """\
archspec: 1
name: child
extends: base.yaml
defaults:
  conv: {act: silu}
""")
    g = load_resolve(child)
    (n,) = g.nodes
    assert n.name == "u.conv" and n.args.bn is True and n.args.act == "silu"


def test_extends_chain_two_levels(tmp_path):
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "mid.yaml", "archspec: 1\nname: mid\nextends: base.yaml\nparams: {width: 4}\n")
    top = write(tmp_path, "top.yaml", "archspec: 1\nname: top\nextends: mid.yaml\npatch:\n  head: {out: 7}\n")
    g = load_resolve(top)
    assert g.name == "top"
    assert [n.shape[1] for n in g.nodes] == [4, 16, 7]


# ----------------------------------------------------------------------------- graph wiring
def test_in_defaults_to_previous_entry(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
graph:
  - {id: a, op: conv, out: 8, k: 3}
  - {id: b, op: act, fn: relu}
  - {id: c, op: conv, out: 4, k: 1}
""")
    g = load_resolve(path)
    assert [(n.name, n.inputs) for n in g.nodes] == [("a", ["image"]), ("b", ["a"]), ("c", ["b"])]
    assert g.outputs == ["c"]


def test_in_defaults_to_previous_entry_without_ids(tmp_path):
    # as in DESIGN.md: {op: maxpool, k: 3, stride: 2} right after the stem, with no id
    path = write(tmp_path, "g.yaml", HEAD + """\
graph:
  - {op: conv, out: 8, k: 3}
  - {op: maxpool, k: 3, stride: 2}
  - {op: conv, out: 4, k: 1}
""")
    g = load_resolve(path)
    assert [n.op for n in g.nodes] == ["conv", "maxpool", "conv"]
    assert [n.shape for n in g.nodes] == [(1, 8, 32, 32), (1, 8, 15, 15), (1, 4, 15, 15)]
    assert g.nodes[1].inputs == [g.nodes[0].name] and g.nodes[2].inputs == [g.nodes[1].name]
    assert len(set(names(g))) == 3


def test_forward_references_are_ordered_topologically(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
graph:
  - {id: late, op: conv, in: early, out: 4, k: 1}
  - {id: early, op: conv, in: image, out: 6, k: 3}
  - {id: cat, op: concat, in: [late, early, image]}
""")
    g = load_resolve(path)
    assert names(g) == ["early", "late", "cat"]
    assert g.node("late").inputs == ["early"]
    assert g.node("cat").shape == (1, 4 + 6 + 3, 32, 32)


def test_repeat_naming_and_first(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
blocks:
  unit:
    params: {out: 8, stride: 1}
    graph:
      - {id: conv, op: conv, out: "${out}", k: 3, stride: "${stride}"}
graph:
  - {id: st, block: unit, repeat: 3, out: 16, first: {stride: 2}}
  - {id: rr, op: conv, out: 16, k: 3, repeat: 2, first: {k: 1}}
""")
    g = load_resolve(path)
    assert names(g) == ["st.0.conv", "st.1.conv", "st.2.conv", "rr.0", "rr.1"]
    assert [n.inputs for n in g.nodes] == [["image"], ["st.0.conv"], ["st.1.conv"], ["st.2.conv"], ["rr.0"]]
    assert [n.shape[2] for n in g.nodes] == [16, 16, 16, 16, 16]  # only the first is strided
    assert [n.args.stride for n in g.nodes[:3]] == [2, 1, 1]
    assert [n.args.k for n in g.nodes[3:]] == [1, 3]
    assert g.outputs == ["rr.1"]


def test_repeat_from_expression(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
params: {depth: 2}
graph:
  - {id: r, op: act, fn: relu, repeat: "${depth * 2}"}
""")
    assert names(load_resolve(path)) == ["r.0", "r.1", "r.2", "r.3"]
    assert names(load_resolve(path, {"depth": 1})) == ["r.0", "r.1"]


def test_when_false_and_repeat_zero_pass_the_first_input_through(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
params: {extra: false}
graph:
  - {id: a, op: conv, out: 8, k: 3}
  - {id: skip, op: conv, out: 99, k: 1, when: false}
  - {id: cond, op: conv, out: 98, k: 1, when: "${extra}"}
  - {id: none, op: conv, in: skip, out: 97, k: 1, repeat: 0}
  - {id: sum, op: add, in: [skip, none]}
""")
    g = load_resolve(path)
    assert names(g) == ["a", "sum"]
    assert g.node("sum").inputs == ["a", "a"] and g.node("sum").shape == (1, 8, 32, 32)
    g = load_resolve(path, {"extra": True})
    assert names(g) == ["a", "cond", "sum"]
    assert g.node("cond").inputs == ["a"] and g.node("sum").inputs == ["a", "a"]


def test_when_false_inside_a_block_passes_block_input(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
blocks:
  maybe:
    params: {enabled: true}
    graph:
      - {id: conv, op: conv, out: 5, k: 1, when: "${enabled}"}
graph:
  - {id: a, block: maybe, enabled: false}
  - {id: b, block: maybe}
""")
    g = load_resolve(path)
    assert names(g) == ["b.conv"] and g.nodes[0].inputs == ["image"]


def test_named_inputs_and_outputs(tmp_path):
    path = write(tmp_path, "g.yaml", """\
archspec: 1
name: two_inputs
input: {rgb: [1, 3, 16, 16], depth: [1, 1, 16, 16]}
graph:
  - {id: a, op: conv, in: rgb, out: 8, k: 3}
  - {id: b, op: conv, in: depth, out: 8, k: 3}
  - {id: cat, op: concat, in: [a, b]}
  - {id: up, op: upsample, mode: nearest, scale: 2}
  - {id: same, op: upsample, mode: bilinear, size_of: rgb, in: cat}
outputs: [up, same, b]
""")
    g = load_resolve(path)
    assert g.inputs == {"rgb": (1, 3, 16, 16), "depth": (1, 1, 16, 16)}
    assert g.node("cat").shape == (1, 16, 16, 16)
    assert g.node("up").shape == (1, 16, 32, 32)
    assert g.node("same").shape == (1, 16, 16, 16)
    assert g.outputs == ["up", "same", "b"]


def test_input_shape_override(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + "graph:\n  - {id: c, op: conv, out: 8, k: 3, stride: 2}\n")
    g = resolve(load(path), {"image": (2, 3, 64, 48)})
    assert g.node("c").shape == (2, 8, 32, 24)


def test_block_output_and_multiple_inputs(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
blocks:
  fuse:
    inputs: [x, y]
    output: cat
    graph:
      - {id: px, op: conv, in: x, out: 4, k: 1}
      - {id: cat, op: concat, in: [px, y]}
      - {id: unused, op: act, fn: relu}
graph:
  - {id: a, op: conv, out: 8, k: 3}
  - {id: f, block: fuse, in: [a, image]}
  - {id: tail, op: act, fn: relu}
""")
    g = load_resolve(path)
    assert g.node("f.cat").shape == (1, 7, 32, 32)
    assert g.node("tail").inputs == ["f.cat"]


def test_yaml_merge_keys_and_anchors(tmp_path):
    path = write(tmp_path, "g.yaml", HEAD + """\
graph:
  - &c {id: a, op: conv, out: 8, k: 3}
  - {<<: *c, id: b, k: 1}
""")
    g = load_resolve(path)
    assert [(n.name, n.args.k) for n in g.nodes] == [("a", 3), ("b", 1)]


def test_spec_records_files_and_hash(tmp_path):
    import hashlib

    path = write(tmp_path, "g.yaml", HEAD + "graph:\n  - {op: act, fn: relu}\n")
    spec = load(path)
    assert spec.files == [str(path)]
    assert spec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- shipped specs
def test_resnet50_param_count():
    g = archspec.resolve(archspec.load(SPECS / "resnet50.yaml"))
    assert g.total_params == 25_557_032
    assert g.shape_of(g.outputs[0]) == (1, 1000)


def test_mobilenetv2_param_count():
    g = archspec.resolve(archspec.load(SPECS / "mobilenetv2.yaml"))
    assert g.total_params == 3_504_872
    assert g.shape_of(g.outputs[0]) == (1, 1000)


def test_fusion_does_not_change_param_count():
    spec = archspec.load(SPECS / "resnet50.yaml")
    assert archspec.resolve(spec, fuse=False).total_params == archspec.resolve(spec).total_params


SHIPPED = sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_specs_validate(path):
    spec = archspec.load(path)
    g = archspec.resolve(spec)
    assert g.nodes and g.outputs and g.total_params > 0
    if "output_stride" in spec.params:
        spec8 = archspec.load(path, {"output_stride": "8"}, override_source="--set")
        g8 = archspec.resolve(spec8)
        assert g8.total_params == g.total_params  # dilation instead of stride: same weights
        assert g8.shape_of(g8.outputs[0]) == g.shape_of(g.outputs[0])


def test_deeplab_num_classes_override():
    g = archspec.resolve(archspec.load(SPECS / "deeplabv3p.yaml", {"num_classes": "19"}, override_source="--set"))
    assert g.shape_of(g.outputs[0]) == (1, 19, 513, 513)
