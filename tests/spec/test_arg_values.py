"""Argument values as a spec writes them: `${...}` inside list arguments, integers beyond any size,
and arguments that contradict each other."""
from __future__ import annotations

from conftest import assert_at, load_resolve, one_error, pos, write

HEAD = "archspec: 1\nname: t\nparams: {n: 3, p: 1}\ninput: {x: [1, 4, 8, 8]}\ngraph:\n"


def test_expressions_inside_list_arguments_are_evaluated_item_by_item(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + '  - {id: c, op: conv, out: 4, k: ["${n}", 1], padding: ["${n // 2}", 0]}\n'
                                            '  - {id: p, op: pad, pad: ["${p}", 0]}\n'
                                            '  - {id: u, op: upsample, mode: nearest, size: ["${in_height * 2}", 16]}\n')
    g = load_resolve(path, {"n": 5})
    assert g.node("c").args.k == (5, 1) and g.node("c").shape == (1, 4, 8, 8)
    assert g.node("p").shape == (1, 4, 10, 8) and g.node("u").shape == (1, 4, 20, 16)
    bad = write(tmp_path, "bad.yaml", HEAD + '  - {op: conv, out: 4, k: ["${m}", 1]}\n')
    e = one_error(bad)
    assert "unknown name 'm'" in e.message and e.path.endswith(".k[0]")
    assert_at(e, bad, *pos(bad, '"${m}"'))


def test_integers_beyond_any_size_are_refused_where_written(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + "  - {op: conv, out: 8, k: 3, stride: 99999999999999999999}\n")
    e = one_error(path)
    assert "out of range" in e.message and e.path.endswith("stride")
    assert_at(e, path, *pos(path, "99999999999999999999"))


def test_depthwise_and_groups_contradict(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + "  - {op: conv, out: 4, k: 3, depthwise: true, groups: 2}\n")
    assert "not both" in one_error(path).message


def test_exponent_numbers_are_numbers_as_papers_write_them(tmp_path):
    """YAML 1.1 reads 1e-6 (no dot, or no exponent sign) as text; specs read it as the number."""
    import archspec

    path = write(tmp_path, "s.yaml", "archspec: 1\nname: t\nparams: {eps: 1e-6, e2: {default: 1.0e-5, type: float}}\n"
                                     "input: {x: [1, 3, 8, 8]}\npreprocess: {std: [1e-3, 1, 1]}\ngraph:\n"
                                     '  - {id: a, op: layernorm, eps: "${eps * 10}"}\n'
                                     '  - {id: b, op: groupnorm, groups: 3, eps: "${e2}"}\n')
    g = load_resolve(path)
    assert abs(g.node("a").args.eps - 1e-5) < 1e-12 and g.node("b").args.eps == 1e-5
    assert abs(archspec.validate(path, overrides={"eps": "2e-6"}).node("a").args.eps - 2e-5) < 1e-12
    quoted = write(tmp_path, "q.yaml", "archspec: 1\nname: q\nparams: {tag: '1e-6'}\ninput: {x: [1, 3, 8, 8]}\n"
                                       "graph:\n  - {op: relu}\n")
    assert archspec.load(quoted).values["tag"] == "1e-6"  # quoted text stays text


def test_an_argmax_class_map_feeds_only_layout_ops(tmp_path):
    import numpy as np

    import archspec

    head = "archspec: 1\nname: t\ninput: {x: [1, 3, 8, 8]}\ngraph:\n  - {id: a, op: argmax, keepdims: true}\n"
    bad = write(tmp_path, "bad.yaml", head + "  - {id: b, op: upsample, mode: bilinear, scale: 2}\n")
    e = one_error(bad)
    assert "reads 'a', an int32 class map" in e.message and "graph output" in e.hint
    assert_at(e, bad, *pos(bad, "{id: b"))
    ok = write(tmp_path, "ok.yaml", head + "  - {op: permute, dims: [0, 2, 3, 1]}\n  - {op: reshape, shape: [1, 64]}\n"
                                          "  - {op: flatten}\n")
    out = archspec.build(ok).net(__import__("mindspore").Tensor(np.zeros((1, 3, 8, 8), np.float32)))
    assert str(out.dtype) == "Int32" and tuple(out.shape) == (1, 64)  # the layout ops run on int32


def test_an_id_that_is_an_input_name_is_one_error_not_a_cycle(tmp_path):
    path = write(tmp_path, "s.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 8, 8]}\ngraph:\n"
                                     "  - {id: image, op: conv, out: 4, k: 3}\n")
    e = one_error(path)
    assert "already the name of an input" in e.message
    assert_at(e, path, *pos(path, "image, op"))


def test_a_param_default_that_names_a_later_param_says_to_reorder(tmp_path):
    path = write(tmp_path, "s.yaml", "archspec: 1\nname: t\nparams: {s: '${t}', t: 8}\ninput: {x: [1, 3, 8, 8]}\n"
                                     "graph:\n  - {op: conv, out: '${s}', k: 1}\n")
    e = one_error(path)
    assert "unknown name 't'" in e.message and "declare 't' before 's'" in e.hint
