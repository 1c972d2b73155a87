"""User mistakes in specs: each must be a SpecError at the right file, line and column, with a
message naming the problem (and a did-you-mean hint for unknown names). Also: bounded time on
hostile inputs (huge files, deep nesting, alias bombs, huge repeats, self-nesting blocks)."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from conftest import (HEAD, TimeLimit, all_errors, assert_at, catch, errors_of, find, load_resolve, one_error, pos,
                      time_limit, write)

from archspec import SpecError, SpecErrors, load, resolve
from archspec.errors import MAX_REPORTED_ERRORS

CONV = "  - {id: c1, op: conv, out: 8, k: 3}\n"


def graph(*lines: str) -> str:
    return HEAD + "graph:\n" + "".join(f"  - {line}\n" for line in lines)


# ----------------------------------------------------------------------------- YAML level
def test_not_yaml(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: [x\n")
    e = one_error(p)
    assert_at(e, p, 3, 1)  # where the parser gave up: the end of the unclosed list
    assert "not valid YAML" in e.message and "]" in e.message
    assert e.hint


def test_not_yaml_bad_indentation(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\n  name: x\n")
    e = one_error(p)
    assert_at(e, p, 2, 7)
    assert "not valid YAML" in e.message and "mapping values" in e.message


def test_not_yaml_tab_indentation(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ngraph:\n\t- {op: conv}\n")
    e = one_error(p)
    assert_at(e, p, 4, 1)
    assert "not valid YAML" in e.message


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "a list"), ("hello\n", "a single value"),
                                        ("42\n", "a single value")])
def test_yaml_that_is_not_a_mapping(tmp_path, text, kind):
    p = write(tmp_path, "a.yaml", text)
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "mapping" in e.message and kind in e.message
    assert "archspec: 1" in e.hint


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path, text):
    p = write(tmp_path, "a.yaml", text)
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "empty" in e.message
    assert "archspec: 1" in e.hint


def test_not_utf8(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_bytes(b"archspec: 1\nname: \xff\xfe\n")
    e = one_error(p)
    assert e.loc.file == str(p) and (e.loc.line, e.loc.col) in [(0, 0), (2, 7)]  # the file, or the bad byte
    assert "UTF-8" in e.message


def test_missing_file(tmp_path):
    p = tmp_path / "nope.yaml"
    e = one_error(p)
    assert_at(e, p, 0, 0)
    assert "not found" in e.message


def test_duplicate_keys(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "graph:\n  - {id: a, op: conv, out: 8, k: 3, out: 4}\nname: u\n")
    errs = errors_of(p)
    e = errs[0]
    assert_at(e, p, *pos(p, "out: 4"))  # the second 'out', in the first mapping that has a duplicate
    assert "duplicate key 'out'" in e.message and "line 5" in e.message


def test_duplicate_top_level_key(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "name: u\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 4, 1)
    assert "duplicate key 'name'" in e.message and "line 2" in e.message
    assert e.hint


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['touch {marker}']",
                                 "!!python/name:os.system ''",
                                 "!!python/object/new:os.system ['touch {marker}']",
                                 "!include other.yaml"])
def test_yaml_tags_rejected_and_nothing_executed(tmp_path, tag):
    marker = tmp_path / "PWNED"
    p = write(tmp_path, "a.yaml", HEAD + "description: " + tag.format(marker=marker) + "\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 4, 14)
    assert "tag" in e.message and "not allowed" in e.message
    assert e.hint
    assert not marker.exists()


def test_yaml_tag_on_whole_document(tmp_path):
    marker = tmp_path / "PWNED"
    p = write(tmp_path, "a.yaml", f"!!python/object/apply:os.system ['touch {marker}']\n")
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "tag" in e.message
    assert not marker.exists()


# ----------------------------------------------------------------------------- structure
def test_unknown_top_level_key(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "grpah:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 4, 1)
    assert "unknown key 'grpah'" in e.message
    assert "'graph'" in e.hint and "did you mean" in e.hint


def test_unknown_node_key_in_block(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "blocks:\n  b:\n    grahp: []\ngraph:\n" + CONV)
    e = find(errors_of(p), "grahp")
    assert_at(e, p, *pos(p, "grahp"))
    assert "'graph'" in e.hint


def test_wrong_version(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 2\nname: t\n")
    e = one_error(p)
    assert_at(e, p, 1, 11)
    assert e.path == "archspec"
    assert "2" in e.message and "1" in e.message
    assert "archspec: 1" in e.hint


def test_missing_version(tmp_path):
    p = write(tmp_path, "a.yaml", "name: t\ninput: {image: [1, 3, 8, 8]}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "archspec: 1" in e.message


def test_missing_name(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\ninput: {image: [1, 3, 8, 8]}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "name" in e.message and "missing" in e.message


def test_bad_node_id(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: 1st-conv, op: conv, out: 8, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "1st-conv"))
    assert "id" in e.path and e.hint


def test_node_with_op_and_block(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, block: b, out: 8, k: 3}"))
    e = one_error(p)
    assert_at(e, p, 5, 5)
    assert "exactly one of 'op' or 'block'" in e.message


# ----------------------------------------------------------------------------- unknown names
def test_unknown_op(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: cnov, out: 8, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "cnov"))
    assert "unknown op 'cnov'" in e.message and e.path == "graph[0].op"
    assert "did you mean 'conv'" in e.hint


def test_unknown_op_far_from_anything(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: transformer_xl}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "transformer_xl"))
    assert "archspec ops" in e.hint


def test_unknown_op_argument(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 8, k: 3, strid: 2}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "strid"))  # the key at fault
    assert "'strid'" in e.message and "conv" in e.message
    assert "did you mean 'stride'" in e.hint


def test_unknown_op_argument_in_defaults(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "defaults:\n  conv: {bn: true, atc: relu}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "relu"))  # positioned in defaults:, where the mistake is
    assert "'atc'" in e.message and "defaults.conv.atc" in e.path
    assert "'act'" in e.hint


def test_unknown_op_in_defaults(tmp_path):
    # a typo under defaults: must not silently do nothing
    p = write(tmp_path, "a.yaml", HEAD + "defaults:\n  cnov: {bn: true}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "cnov"))
    assert "'cnov'" in e.message
    assert "did you mean 'conv'" in e.hint


def test_block_with_empty_inputs_list(tmp_path):
    # inputs: [] must not silently become the default [in]
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  b:
    inputs: []
    graph:
      - {op: conv, out: 8, k: 3}
graph:
  - {block: b}
""")
    e = errors_of(p)[0]
    assert_at(e, p, *pos(p, "[]"))
    assert "input" in e.message + e.path


def test_unknown_param_in_set(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {num_classes: 10}\ngraph:\n" + CONV)
    e = one_error(p, {"num_clases": "3"}, override_source="--set")
    assert_at(e, "--set", 0, 0)
    assert "unknown param 'num_clases'" in e.message
    assert "did you mean 'num_classes'" in e.hint


def test_set_on_spec_without_params(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 8, k: 3}"))
    e = one_error(p, {"x": "3"}, override_source="--set")
    assert_at(e, "--set", 0, 0)
    assert "'x'" in e.message and e.hint


def test_unknown_block(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    graph:
      - {op: conv, out: 8, k: 3}
graph:
  - {block: uint}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, "uint"))
    assert "unknown block 'uint'" in e.message
    assert "did you mean 'unit'" in e.hint


def test_unknown_block_param(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    params: {out: 8}
    graph:
      - {op: conv, out: "${out}", k: 3}
graph:
  - {block: unit, ouut: 3}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, "ouut"))  # the unknown key, as for unknown op arguments
    assert "'ouut'" in e.message and "unit" in e.message
    assert "did you mean 'out'" in e.hint


def test_missing_required_block_param(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    params: {out: {type: int}}
    graph:
      - {op: conv, out: "${out}", k: 3}
graph:
  - {block: unit}
""")
    e = one_error(p)
    assert_at(e, p, 10, 5)
    assert "'out'" in e.message and "required" in e.message


def test_missing_required_param(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params:\n  n: {type: int}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "{type: int}"))
    assert "'n'" in e.message and "--set n=" in e.hint


# ----------------------------------------------------------------------------- values and types
def test_string_where_int_wanted(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: eight, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "eight"))
    assert "'out'" in e.message and "integer" in e.message and "eight" in e.message


def test_float_from_division_where_int_wanted(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: '${64 / 2}', k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${64"))
    assert e.path == "graph[0].out"
    assert "//" in e.message + e.hint  # steer to integer division


def test_float_literal_where_int_wanted(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 32.0, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "32.0"))
    assert e.path == "graph[0].out" and "32.0" in e.message


def test_float_param_default_where_int_declared(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params:\n  n: 8\n  half: {type: int, default: '${n / 2}'}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "{type: int"))
    assert "'half'" in e.message and "int" in e.message
    assert "//" in e.hint


def test_bool_where_int_wanted(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: true, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "true"))
    assert "'out'" in e.message or "boolean" in e.message


@pytest.mark.parametrize("arg, value", [("out", "0"), ("out", "-8"), ("k", "0"), ("k", "-3"),
                                        ("stride", "0"), ("stride", "-2"), ("dilation", "0"), ("groups", "0")])
def test_zero_or_negative_sizes(tmp_path, arg, value):
    args = {"out": "8", "k": "3", arg: value}
    text = ", ".join(f"{k}: {v}" for k, v in args.items())
    p = write(tmp_path, "a.yaml", graph("{op: conv, %s}" % text))
    e = one_error(p)  # one mistake, one message (not one per member of int | [int, int])
    assert_at(e, p, *_value_pos(p, arg, value))
    assert f"'{arg}'" in e.message and "greater than 0" in e.message


def _value_pos(p: Path, arg: str, value: str) -> tuple[int, int]:
    line, col = pos(p, f" {arg}: {value}")
    return line, col + len(arg) + 3


def test_negative_kernel_pair(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 8, k: [3, -1]}"))
    e = one_error(p)  # not also "'k' should be a valid integer": a pair is fine, its -1 is not
    assert e.loc.file == str(p)
    assert (e.loc.line, e.loc.col) in [pos(p, "[3, -1]"), pos(p, "-1]")]
    assert "greater than 0" in e.message


def test_bad_choice_value(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 8, k: 3, act: rleu}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "rleu"))
    assert "'act'" in e.message and "relu" in e.message


def test_param_out_of_range_and_choices(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
params:
  output_stride: {default: 16, choices: [8, 16]}
  depth: {default: 2, min: 1, max: 4}
  os16: "${output_stride == 16}"
graph:
  - {op: conv, out: 8, k: 3}
""")
    e = one_error(p, {"output_stride": "4"}, override_source="--set")  # and no follow-on error for os16
    assert_at(e, "--set", 0, 0)
    assert "output_stride" in e.message and "8" in e.message and "16" in e.message
    e = one_error(p, {"depth": 5})
    assert_at(e, "overrides", 0, 0)
    assert "<= 4" in e.message
    e = one_error(p, {"depth": 0})
    assert ">= 1" in e.message


def test_set_value_not_parseable(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {n: 8, flag: false}\ngraph:\n" + CONV)
    e = one_error(p, {"n": "eight"}, override_source="--set")
    assert_at(e, "--set", 0, 0)
    assert "'n'" in e.message and "eight" in e.message
    e = one_error(p, {"flag": "maybe"}, override_source="--set")
    assert "true or false" in e.hint


def test_param_default_outside_its_range(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params:\n  n: {default: 0, min: 1}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "{default: 0"))
    assert ">= 1" in e.message


def test_bad_param_declaration(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params:\n  n: {defualt: 3}\ngraph:\n" + CONV)
    e = find(errors_of(p), "defualt")
    assert_at(e, p, *pos(p, "defualt"))
    assert "'default'" in e.hint


def test_bad_input_shape(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 0, 32]}\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "[1, 3, 0"))
    assert "image" in e.message and "positive" in e.message


def test_missing_input(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 1, 1)
    assert "input" in e.message and "input:" in e.hint


def test_repeat_must_be_whole_number(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {n: 2}\ngraph:\n  - {op: act, fn: relu, repeat: '${n - 3}'}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${n - 3}'"))
    assert "repeat" in e.message and "-1" in e.message


def test_when_must_be_boolean(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: act, fn: relu, when: '${1 + 1}'}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${1 + 1}'"))
    assert "when" in e.message and "true or false" in e.message


def test_bad_yaml_merge_key(tmp_path):
    # found by test_spec_fuzz: a yaml ConstructorError leaked out of the loader
    p = write(tmp_path, "a.yaml", graph("{<<: 1, op: conv, out: 8, k: 3}"))
    e = one_error(p)
    line, col = pos(p, "<<: 1")
    assert_at(e, p, line, col + len("<<: "))
    assert "<<" in e.message or "merge" in e.message


def test_bad_yaml_merge_key_at_top(tmp_path):
    p = write(tmp_path, "a.yaml", "<<: [1, 2]\n" + HEAD + "graph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 1, 6)  # the first thing that is not a mapping


def test_min_max_on_a_string_param(tmp_path):
    # found by test_spec_fuzz: TypeError '<' not supported between 'str' and 'int' in params.coerce
    p = write(tmp_path, "a.yaml", HEAD + "params:\n  width: {default: abc, min: 4}\ngraph:\n" + CONV)
    e = one_error(p)
    assert e.loc.file == str(p) and e.loc.line == 5
    assert e.loc.col in (pos(p, "{default")[1], pos(p, "min")[1])
    assert "min" in e.message
    p = write(tmp_path, "b.yaml", HEAD + "params:\n  t: {type: str, default: abc, max: 3}\ngraph:\n" + CONV)
    e = errors_of(p, {"t": "x"}, override_source="--set")[0]
    assert e.loc.file in (str(p), "--set") and "max" in e.message


# ----------------------------------------------------------------------------- expressions
def test_expression_divides_by_zero(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {n: 0}\ngraph:\n  - {op: conv, out: '${8 // n}', k: 3}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${8 // n}'"))
    assert "division by zero" in e.message and e.path == "graph[0].out"


def test_param_expression_divides_by_zero(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {n: 0, m: '${8 // n}'}\ngraph:\n  - {op: conv, out: '${m}', k: 3}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${8 // n}'"))
    assert "division by zero" in e.message and e.path == "params.m"


def test_expression_names_unknown_param(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "params: {width: 2}\ngraph:\n  - {op: conv, out: '${widht * 8}', k: 3}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${widht"))
    assert "unknown name 'widht'" in e.message
    assert "did you mean 'width'" in e.hint


def test_expression_in_block_cannot_see_spec_params_of_a_library(tmp_path):
    write(tmp_path, "lib.yaml", """\
archspec: 1
name: lib
blocks:
  unit:
    graph:
      - {op: conv, out: "${num_classes}", k: 1}
""")
    p = write(tmp_path, "a.yaml", HEAD + "imports: [lib.yaml]\nparams: {num_classes: 4}\ngraph:\n  - {block: unit}\n")
    e = one_error(p)
    lib = tmp_path / "lib.yaml"
    assert_at(e, lib, *pos(lib, '"${num_classes}"'))
    assert "num_classes" in e.message


def test_bad_expression_syntax(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: '${8 +}', k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "'${8 +}'"))
    assert "invalid expression" in e.message


def test_forbidden_expression(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: \"${__import__('os').getpid()}\", k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, '"${__import__'))
    assert "not allowed" in e.message or "function" in e.message


# ----------------------------------------------------------------------------- references
def test_undefined_in(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: conv1, op: conv, out: 8, k: 3}", "{op: conv, in: covn1, out: 8, k: 3}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "covn1"))
    assert "'covn1'" in e.message and e.path == "graph[1].in"
    assert "did you mean 'conv1'" in e.hint


def test_undefined_in_list_item(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3}", "{op: concat, in: [a, bb]}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "bb]"))
    assert "'bb'" in e.message and e.path == "graph[1].in[1]"


def test_undefined_size_of(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: c1, op: conv, out: 8, k: 3, stride: 2}",
                                        "{op: upsample, mode: bilinear, size_of: imgae}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "imgae"))
    assert "'imgae'" in e.message and e.path == "graph[1].size_of"
    assert "did you mean 'image'" in e.hint


def test_reference_to_automatic_name(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{op: conv, out: 8, k: 3}", "{op: act, fn: relu, in: conv0}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "conv0"))
    assert "id:" in e.hint


def _steers_to_names(e: SpecError) -> bool:
    text = e.message + " " + e.hint
    return bool(re.search(r"\bids?\b", text)) and "name" in text.lower()


@pytest.mark.parametrize("ref", ["-1", "3", "0"])
def test_numeric_back_reference(tmp_path, ref):
    p = write(tmp_path, "a.yaml", graph("{id: c1, op: conv, out: 8, k: 3}", f"{{op: conv, in: {ref}, out: 8, k: 3}}"))
    e = one_error(p)
    line, col = pos(p, f"in: {ref},")
    assert_at(e, p, line, col + len("in: "))
    assert e.path.startswith("graph[1].in")
    assert _steers_to_names(e), e.render()


def test_numeric_back_references_in_list(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: c1, op: conv, out: 8, k: 3}", "{op: concat, in: [-1, 0]}"))
    errs = errors_of(p)
    assert_at(errs[0], p, *pos(p, "-1, 0"))
    for e in errs:
        assert _steers_to_names(e), e.render()


def test_duplicate_ids(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: c1, op: conv, out: 8, k: 3}", "{id: c1, op: conv, out: 8, k: 3}"))
    e = one_error(p)  # in particular no made-up cycle "c1 -> c1"
    assert_at(e, p, *pos(p, "c1", 2))
    assert "duplicate id 'c1'" in e.message and "line 5" in e.message


def test_duplicate_ids_in_block(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    graph:
      - {id: x, op: conv, out: 8, k: 3, in: in}
      - {id: x, op: conv, out: 8, k: 3, in: in}
      - {op: add, in: [x, in]}
graph:
  - {block: unit}
""")
    errs = errors_of(p)
    e = find(errs, "duplicate id 'x'")
    line, col = pos(p, "{id: x", 2)
    assert_at(e, p, line, col + len("{id: "))
    assert not any("cycle" in x.message for x in errs)


def test_id_that_shadows_an_input(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: image, op: conv, out: 8, k: 3}"))
    errs = errors_of(p)
    e = find(errs, "already the name of an input")
    assert_at(e, p, *pos(p, "image, op"))


def test_cycle(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, in: c, out: 8, k: 3}",
                                        "{id: b, op: conv, out: 8, k: 3}",
                                        "{id: c, op: conv, out: 8, k: 3}"))
    e = one_error(p)
    assert_at(e, p, 5, 5)
    assert "cycle" in e.message
    assert re.search(r"\ba -> b -> c -> a\b|\bb -> c -> a -> b\b|\bc -> a -> b -> c\b", e.message), e.message
    assert "in:" in e.hint


def test_self_reference(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: add, in: [image, a]}"))
    e = one_error(p)
    assert_at(e, p, 5, 5)
    assert "cycle" in e.message and "a -> a" in e.message


def test_output_names_nothing(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "graph:\n  - {id: c1, op: conv, out: 8, k: 3}\noutputs: [c1, c2]\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "c2"))
    assert "output 'c2'" in e.message and e.path == "outputs[1]"
    assert "c1" in e.hint


def test_block_output_names_nothing(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    output: outt
    graph:
      - {id: out, op: conv, out: 8, k: 3}
graph:
  - {block: unit}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, "outt"))  # the value at fault, not the block's name
    assert "outt" in e.message and "did you mean 'out'" in e.hint


def test_wrong_number_of_inputs(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3}", "{op: concat}"))
    e = one_error(p)
    assert_at(e, p, 6, 5)
    assert "concat" in e.message and "2" in e.message
    assert "in: [" in e.hint


def test_first_node_with_several_inputs_must_say_which(tmp_path):
    p = write(tmp_path, "a.yaml", """\
archspec: 1
name: t
input: {rgb: [1, 3, 16, 16], depth: [1, 1, 16, 16]}
graph:
  - {op: conv, out: 8, k: 3}
""")
    e = one_error(p)  # and not a second "takes 1 input(s), got 0"
    assert_at(e, p, 5, 5)
    assert "in:" in e.message and "rgb" in e.hint and "depth" in e.hint


# ----------------------------------------------------------------------------- imports / extends
def test_missing_import(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "imports: [lib/nope.yaml]\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, *pos(p, "lib/nope.yaml"))
    assert "not found" in e.message and "lib/nope.yaml" in e.message
    assert e.path == "imports[0]"


def test_missing_extends(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: a\nextends: base.yaml\n")
    e = one_error(p)
    assert_at(e, p, 3, 10)
    assert "not found" in e.message


def test_error_inside_imported_file_points_into_it(tmp_path):
    lib = write(tmp_path, "lib/blocks.yaml", "archspec: 1\nname: lib\nblocks:\n  unit:\n    graph:\n      - {op: cnov}\n")
    p = write(tmp_path, "a.yaml", HEAD + "imports: [lib/blocks.yaml]\ngraph:\n  - {block: unit}\n")
    e = one_error(p)
    assert Path(e.loc.file).resolve() == lib.resolve()
    assert (e.loc.line, e.loc.col) == pos(lib, "cnov")
    assert "did you mean 'conv'" in e.hint


def test_import_cycle(tmp_path):
    write(tmp_path, "b.yaml", "archspec: 1\nname: b\nimports: [a.yaml]\n")
    p = write(tmp_path, "a.yaml", HEAD + "imports: [b.yaml]\ngraph:\n" + CONV)
    e = one_error(p)
    b = tmp_path / "b.yaml"
    assert Path(e.loc.file).resolve() == b.resolve()
    assert (e.loc.line, e.loc.col) == pos(b, "a.yaml")
    assert "import cycle" in e.message and "a.yaml -> b.yaml -> a.yaml" in e.message


def test_library_importing_itself(tmp_path):
    write(tmp_path, "lib.yaml", "archspec: 1\nname: lib\nimports: [lib.yaml]\n")
    p = write(tmp_path, "a.yaml", HEAD + "imports: [lib.yaml]\ngraph:\n" + CONV)
    e = one_error(p)
    lib = tmp_path / "lib.yaml"
    assert Path(e.loc.file).resolve() == lib.resolve()
    assert (e.loc.line, e.loc.col) == (3, 11)
    assert "import cycle" in e.message and "lib.yaml -> lib.yaml" in e.message


def test_extends_cycle(tmp_path):
    write(tmp_path, "b.yaml", "archspec: 1\nname: b\nextends: a.yaml\n")
    p = write(tmp_path, "a.yaml", HEAD + "extends: b.yaml\ngraph:\n" + CONV)
    e = one_error(p)
    b = tmp_path / "b.yaml"
    assert Path(e.loc.file).resolve() == b.resolve()
    assert (e.loc.line, e.loc.col) == (3, 10)
    assert "extends cycle" in e.message and "a.yaml -> b.yaml -> a.yaml" in e.message


def test_extends_itself(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "extends: a.yaml\ngraph:\n" + CONV)
    e = one_error(p)
    assert_at(e, p, 4, 10)
    assert "extends cycle" in e.message


def test_import_outside_the_spec_folder(tmp_path):
    write(tmp_path, "x.yaml", "archspec: 1\nname: x\nblocks:\n  unit:\n    graph:\n      - {op: conv, out: 8, k: 3}\n")
    target = "../x.yaml"
    p = write(tmp_path, "sub/a.yaml", HEAD + f"imports: ['{target}']\ngraph:\n  - {{block: unit}}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, f"'{target}'"))
    assert "outside" in e.message and target in e.message
    assert "--allow-outside-imports" in e.hint and "absolute path" in e.hint
    g = load_resolve(p, allow_outside_imports=True)
    assert [n.name for n in g.nodes] == ["unit0.conv0"] or len(g.nodes) == 1
    # the absolute path the user wrote is read as written (tests/spec/test_library.py has more)
    q = write(tmp_path, "sub/b.yaml", HEAD + f"imports: ['{tmp_path / 'x.yaml'}']\ngraph:\n  - {{block: unit}}\n")
    assert len(load_resolve(q).nodes) == 1


def test_extends_outside_the_spec_folder(tmp_path):
    write(tmp_path, "base.yaml", HEAD + "graph:\n" + CONV)
    p = write(tmp_path, "sub/a.yaml", "archspec: 1\nname: a\nextends: ../base.yaml\n")
    e = one_error(p)
    assert_at(e, p, 3, 10)
    assert "outside" in e.message
    assert len(load_resolve(p, allow_outside_imports=True).nodes) == 1


def test_block_defined_twice(tmp_path):
    write(tmp_path, "lib.yaml", "archspec: 1\nname: lib\nblocks:\n  unit:\n    graph:\n      - {op: act, fn: relu}\n")
    p = write(tmp_path, "a.yaml", HEAD + """\
imports: [lib.yaml]
blocks:
  unit:
    graph:
      - {op: act, fn: relu}
graph:
  - {block: unit}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, "unit:"))
    assert "'unit'" in e.message


def test_patch_unknown_node(tmp_path):
    write(tmp_path, "base.yaml", HEAD + "graph:\n  - {id: stem, op: conv, out: 8, k: 3}\n")
    p = write(tmp_path, "c.yaml", "archspec: 1\nname: c\nextends: base.yaml\npatch:\n  stme: {k: 1}\n")
    e = one_error(p)
    assert_at(e, p, 5, 3)
    assert "'stme'" in e.message and "did you mean 'stem'" in e.hint


def test_patch_cannot_change_op(tmp_path):
    write(tmp_path, "base.yaml", HEAD + "graph:\n  - {id: stem, op: conv, out: 8, k: 3}\n")
    p = write(tmp_path, "c.yaml", "archspec: 1\nname: c\nextends: base.yaml\npatch:\n  stem: {op: dense}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "op: dense"))
    assert "'op'" in e.message


def test_patch_without_extends(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "graph:\n  - {id: a, op: conv, out: 8, k: 3}\npatch:\n  a: {k: 1}\n")
    e = one_error(p)
    assert_at(e, p, 6, 1)
    assert "extends" in e.message


def test_patched_value_error_points_at_the_patch(tmp_path):
    write(tmp_path, "base.yaml", HEAD + "graph:\n  - {id: stem, op: conv, out: 8, k: 3}\n")
    p = write(tmp_path, "c.yaml", "archspec: 1\nname: c\nextends: base.yaml\npatch:\n  stem: {k: 0}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "0}"))


# ----------------------------------------------------------------------------- empty graphs
def test_empty_graph(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "graph: []\n")
    e = one_error(p)
    assert_at(e, p, 4, 8)
    assert "empty" in e.message and "graph" in e.hint


def test_library_only_file_given_to_resolve(tmp_path):
    p = write(tmp_path, "lib.yaml", "archspec: 1\nname: lib\nblocks:\n  unit:\n    graph:\n      - {op: act, fn: relu}\n")
    spec = load(p)  # a library loads fine
    assert set(spec.blocks) == {"unit"}
    e = catch(resolve, spec)[0]
    assert_at(e, p, 1, 1)
    assert "empty" in e.message and "librar" in e.hint


def test_empty_block_graph(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + "blocks:\n  unit:\n    graph: []\ngraph:\n  - {block: unit}\n")
    e = one_error(p)
    assert_at(e, p, 6, 12)
    assert "at least 1" in e.message or "empty" in e.message


# ----------------------------------------------------------------------------- shape errors
def test_concat_unequal_height_width(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3}",
                                        "{id: b, op: conv, out: 8, k: 3, stride: 2}",
                                        "{id: cat, op: concat, in: [a, b]}"))
    e = one_error(p)
    assert_at(e, p, 7, 5)
    assert "height and width" in e.message and "[1, 8, 32, 32]" in e.message and "[1, 8, 16, 16]" in e.message
    assert "a " in e.message and "b " in e.message  # names the inputs
    assert "cat" in e.path
    assert "size_of" in e.hint and "upsample b" in e.hint


def test_add_unequal_shapes(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3}",
                                        "{id: b, op: conv, out: 16, k: 3}",
                                        "{id: s, op: add, in: [a, b]}"))
    e = one_error(p)
    assert_at(e, p, 7, 5)
    assert "equal shape" in e.message and "channels" in e.message
    assert "[1, 8, 32, 32]" in e.message and "[1, 16, 32, 32]" in e.message


def test_groups_not_dividing_channels(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3, groups: 2}"))
    e = one_error(p)
    assert_at(e, p, *pos(p, "2}"))
    assert "groups=2" in e.message and "3 input channels" in e.message
    assert "depthwise" in e.hint


def test_groups_not_dividing_output_channels(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ninput: {image: [1, 4, 8, 8]}\ngraph:\n"
                                  "  - {id: a, op: conv, out: 6, k: 3, groups: 4}\n")
    e = one_error(p)
    assert_at(e, p, *pos(p, "4}"))
    assert "6 output channels" in e.message


def test_stride_shrinks_below_one_pixel(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 4, 4]}\ngraph:\n"
                                  "  - {id: a, op: conv, out: 8, k: 3, stride: 2}\n"
                                  "  - {id: b, op: conv, out: 8, k: 3, stride: 2}\n"
                                  "  - {id: c, op: conv, out: 8, k: 3, stride: 2, padding: 0}\n")
    e = one_error(p)
    assert_at(e, p, 7, 5)
    assert "below 1 pixel" in e.message and "1x1" in e.message
    assert "--input-shape" in e.hint


def test_pool_larger_than_input(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 2, 2]}\ngraph:\n"
                                  "  - {id: p, op: maxpool, k: 3}\n")
    e = one_error(p)
    assert_at(e, p, 5, 5)
    assert "below 1 pixel" in e.message


def test_dense_on_4d_tensor(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: conv, out: 8, k: 3}", "{id: fc, op: dense, out: 10}"))
    e = one_error(p)
    assert_at(e, p, 6, 5)
    assert "2-D" in e.message and "[1, 8, 32, 32]" in e.message
    assert "flatten" in e.hint


def test_conv_on_2d_tensor(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: f, op: flatten}", "{id: c, op: conv, out: 8, k: 1}"))
    e = one_error(p)
    assert_at(e, p, 6, 5)
    assert "4-D" in e.message


def test_shape_error_inside_block_names_the_instance(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  res:
    params: {out: 8}
    graph:
      - {id: conv, op: conv, out: "${out}", k: 3}
      - {id: add, op: add, in: [conv, in]}
graph:
  - {id: r1, block: res, out: 3}
  - {id: r2, block: res}
""")
    e = one_error(p)
    assert_at(e, p, 9, 9)  # the add inside the block definition
    assert "r2" in e.path and "equal shape" in e.message


# ----------------------------------------------------------------------------- several errors
def test_several_independent_errors_reported_together(tmp_path):
    p = write(tmp_path, "a.yaml", graph("{id: a, op: cnov, out: 8, k: 3}",
                                        "{id: b, op: conv, out: 0, k: 3, in: image}",
                                        "{id: c, op: conv, out: 8, k: 3, in: zz}",
                                        "{id: d, op: conv, out: 8, k: 3, in: image, strid: 1}"))
    with pytest.raises(SpecErrors) as info:
        load_resolve(p)
    errs = info.value.errors
    assert info.value.truncated == 0
    got = [(e.loc.line, e.loc.col) for e in errs]
    assert got == [pos(p, "cnov"), pos(p, "0, k"), pos(p, "zz"), pos(p, "strid")]
    assert [e.path.split(".")[-1] for e in errs] == ["op", "out", "in", "strid"]
    text = str(info.value)
    assert text.count(str(p)) == 4


def test_several_structural_errors_reported_together(tmp_path):
    p = write(tmp_path, "a.yaml", "archspec: 3\nnaem: t\ngraph:\n  - {op: conv, repeat: x, first: {k: 1}}\n")
    with pytest.raises(SpecErrors) as info:
        load_resolve(p)
    errs = info.value.errors
    assert all(e.loc.file == str(p) for e in errs)
    assert_at(find(errs, "version 3"), p, 1, 11)
    assert_at(find(errs, "unknown key 'naem'"), p, 2, 1)
    assert "did you mean 'name'" in find(errs, "unknown key 'naem'").hint
    assert_at(find(errs, "'name'"), p, 1, 1)
    assert [(e.loc.line, e.loc.col) for e in errs] == sorted((e.loc.line, e.loc.col) for e in errs)


def test_errors_are_capped_with_a_count_of_the_rest(tmp_path):
    lines = [f"{{id: n{i}, op: conv, out: 8, k: 3, in: image, bogus{i}: 1}}" for i in range(30)]
    p = write(tmp_path, "a.yaml", graph(*lines))
    with pytest.raises(SpecErrors) as info:
        load_resolve(p)
    err = info.value
    assert len(err.errors) == MAX_REPORTED_ERRORS == 20
    assert err.truncated == 10
    assert [e.loc.line for e in err.errors] == list(range(5, 25))
    assert "10 more" in str(err)


def test_a_block_mistake_is_reported_once(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    graph:
      - {op: conv, out: 8, k: 3, strid: 1}
graph:
  - {id: u, block: unit, repeat: 5}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, "strid"))


# ----------------------------------------------------------------------------- bounded time
LIMIT = 10.0  # seconds: a bound against hangs, not a benchmark




def bounded(path: Path, ok: bool = False):
    """Load and resolve within LIMIT seconds. ok: it must load (the Graph is returned); else it
    must fail with positioned SpecErrors (the list is returned)."""
    t = time.perf_counter()
    errs = graph = None
    timed_out = False
    try:
        with time_limit(LIMIT):
            try:
                graph = load_resolve(path)
            except (SpecError, SpecErrors) as e:
                errs = all_errors(e)
    except TimeLimit:
        timed_out = True
    if timed_out:  # outside the except block: no traceback through the interrupted parser
        pytest.fail(f"loading {path.name} did not finish within {LIMIT:.0f} s", pytrace=False)
    elapsed = time.perf_counter() - t
    assert elapsed < LIMIT, f"{path.name} took {elapsed:.1f} s"
    nlines = path.read_text(encoding="utf-8", errors="replace").count("\n") + 1
    for e in errs or []:
        assert e.loc is not None and e.loc.file, e.render()
        if e.loc.file == str(path):
            assert 0 <= e.loc.line <= nlines, e.render()
    if ok:
        assert errs is None, "\n".join(e.render() for e in errs)
        return graph
    assert errs, f"{path.name} loaded, but it has a mistake"
    return errs


def test_bounded_5000_nodes(tmp_path):
    lines = "".join(f"  - {{id: n{i}, op: act, fn: relu}}\n" for i in range(5000))
    p = write(tmp_path, "big.yaml", HEAD + "graph:\n" + lines)
    g = bounded(p, ok=True)
    assert len(g.nodes) == 5000 and g.outputs == ["n4999"]


def test_bounded_5000_nodes_with_an_error_at_the_end(tmp_path):
    lines = "".join(f"  - {{id: n{i}, op: act, fn: relu}}\n" for i in range(5000))
    p = write(tmp_path, "big.yaml", HEAD + "graph:\n" + lines + "  - {id: last, op: act, fn: rleu}\n")
    (e,) = bounded(p)
    assert_at(e, p, *pos(p, "rleu"))
    assert e.loc.line == 5005


def test_bounded_file_just_over_size_cap(tmp_path):
    from archspec.limits import SPEC_FILE_BYTES as MAX_FILE_BYTES

    pad = "# " + "x" * 100 + "\n"
    text = HEAD + "graph:\n  - {op: act, fn: relu}\n"
    text += pad * ((MAX_FILE_BYTES - len(text)) // len(pad) + 1)
    assert MAX_FILE_BYTES < len(text) < MAX_FILE_BYTES + 200
    p = write(tmp_path, "huge.yaml", text)
    (e,) = bounded(p)
    assert_at(e, p, 0, 0)  # the whole file is at fault
    assert "limit" in e.message and f"{MAX_FILE_BYTES:,}" in e.message
    assert e.hint


def test_bounded_file_just_under_size_cap(tmp_path):
    # ~58,000 graph nodes: must load or fail (the expanded graph is capped) within the bound,
    # and a plain big file must not be blamed on YAML aliases
    from archspec.limits import SPEC_FILE_BYTES as MAX_FILE_BYTES

    rows, size, i = [], len(HEAD) + len("graph:\n"), 0
    while True:
        row = f"  - {{id: n{i}, op: act, fn: relu}}\n"
        if size + len(row) > MAX_FILE_BYTES:
            break
        rows.append(row)
        size += len(row)
        i += 1
    p = write(tmp_path, "under.yaml", HEAD + "graph:\n" + "".join(rows))
    assert MAX_FILE_BYTES - 100 < p.stat().st_size <= MAX_FILE_BYTES
    errs = bounded(p)
    assert errs[0].loc.file == str(p) and errs[0].loc.line >= 1
    assert not any("alias" in e.message for e in errs), errs[0].render()


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}")])
def test_bounded_deep_nesting(tmp_path, opener, closer):
    p = write(tmp_path, "deep.yaml", "archspec: 1\nname: t\ndescription: " + opener * 1000 + "1" + closer * 1000 + "\n")
    (e,) = bounded(p)
    assert e.loc.line == 3 and e.loc.col > len("description: ")
    assert "nesting" in e.message


def test_bounded_deep_nesting_unclosed(tmp_path):
    p = write(tmp_path, "deep.yaml", "archspec: 1\nname: t\ndescription: " + "[" * 1000 + "\n")
    (e,) = bounded(p)
    assert e.loc.line == 3


def test_bounded_billion_laughs(tmp_path):
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        rows.append(f"{cur}: &{cur} [" + ",".join(["*" + prev] * 9) + "]")
    p = write(tmp_path, "bomb.yaml", "archspec: 1\nname: t\nparams:\n" + "".join(f"  {r}\n" for r in rows))
    (e,) = bounded(p)
    assert e.loc.file == str(p) and 4 <= e.loc.line <= 12 and e.loc.col >= 1
    assert "alias" in e.message or "expands" in e.message


def test_bounded_huge_repeat(tmp_path):
    p = write(tmp_path, "rep.yaml", graph("{op: act, fn: relu, repeat: 1000000000}"))
    (e,) = bounded(p)
    assert_at(e, p, 5, pos(p, "1000000000")[1])  # at the count, before any repetition runs
    assert "entries" in e.message and "repeat" in e.hint


def test_bounded_huge_repeat_of_block_with_huge_repeat(tmp_path):
    p = write(tmp_path, "rep.yaml", HEAD + """\
blocks:
  u:
    graph:
      - {op: act, fn: relu, repeat: 1000000000}
graph:
  - {block: u, repeat: 1000000000}
""")
    (e,) = bounded(p)
    assert e.loc.file == str(p) and e.loc.line in (7, 9)
    assert "entries" in e.message


def test_bounded_block_nesting_itself(tmp_path):
    p = write(tmp_path, "rec.yaml", HEAD + """\
blocks:
  u:
    graph:
      - {id: r, op: act, fn: relu}
      - {id: again, block: u}
graph:
  - {block: u}
""")
    errs = bounded(p)
    assert len(errs) == 1, "\n".join(e.render() for e in errs)
    line, col = pos(p, "block: u}")
    assert_at(errs[0], p, line, col + len("block: "))
    assert "nest" in errs[0].message or "itself" in errs[0].message


def test_bounded_blocks_nesting_each_other(tmp_path):
    p = write(tmp_path, "rec.yaml", HEAD + """\
blocks:
  u:
    graph:
      - {block: v}
  v:
    graph:
      - {block: u}
graph:
  - {block: u}
""")
    errs = bounded(p)
    assert errs[0].loc.file == str(p) and (errs[0].loc.line, errs[0].loc.col) in [(7, 17), (10, 17)]


def test_bounded_block_using_itself_twice(tmp_path):
    # each level doubles the work: 2**32 leaves at the nesting limit unless recursion stops early
    p = write(tmp_path, "rec.yaml", HEAD + """\
blocks:
  u:
    graph:
      - {id: a, block: u}
      - {id: b, block: u, in: in}
      - {op: add, in: [a, b]}
graph:
  - {block: u}
""")
    errs = bounded(p)
    assert errs[0].loc.file == str(p) and (errs[0].loc.line, errs[0].loc.col) in [(7, 24), (8, 24)]


def test_bounded_long_expression(tmp_path):
    p = write(tmp_path, "e.yaml", graph("{op: conv, k: 1, out: '${" + "+".join(["1"] * 3000) + "}'}"))
    (e,) = bounded(p)
    assert_at(e, p, *pos(p, "'${1+1"))
    assert "too long" in e.message
