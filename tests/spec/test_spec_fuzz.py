"""Property test: random mutations of a valid spec end in a result or in positioned SpecErrors,
never in any other exception (no KeyError, TypeError, RecursionError, pydantic or YAML errors
leaking), and every reported position lies inside the file."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import TimeLimit, all_errors, time_limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec import SpecError, SpecErrors

BASE = """\
archspec: 1
name: tiny_resnet
description: a small ResNet-like spec for fuzzing
params:
  num_classes: 10
  width: {default: 16, min: 4, max: 256}
  os: {default: 16, choices: [8, 16]}
  deep: "${os == 8}"
input: {image: [1, 3, 32, 32]}
defaults:
  conv: {bn: true, act: relu}
blocks:
  res:
    params:
      out: {type: int, min: 1}
      stride: 1
    graph:
      - {id: c1, op: conv, out: "${out}", k: 3, stride: "${stride}"}
      - {id: c2, op: conv, out: "${out}", k: 3, act: null}
      - id: proj
        op: conv
        in: in
        out: "${out}"
        k: 1
        stride: "${stride}"
        act: null
        when: "${stride != 1 or in_channels != out}"
      - {id: add, op: add, in: [c2, proj]}
      - {id: relu, op: act, fn: relu}
graph:
  - {id: stem, op: conv, out: "${width}", k: 3, stride: 1}
  - {id: pool, op: maxpool, k: 3, stride: 2, padding: 1}
  - {id: s1, block: res, repeat: 2, out: "${width}"}
  - {id: s2, block: res, repeat: 2, out: "${width * 2}", first: {stride: 2}}
  - {id: s3, block: res, repeat: "${2 if deep else 1}", out: "${width * 4}", first: {stride: 2}}
  - {id: gap, op: global_avgpool}
  - {id: flat, op: flatten}
  - {id: up, op: upsample, in: s1, mode: bilinear, size_of: image}
  - {id: cat, op: concat, in: [up, image]}
  - {id: fc, op: dense, in: flat, out: "${num_classes}"}
outputs: [fc, cat]
"""

NUMBERS = ["0", "-1", "-7", "1000000000000", "99999999999999999999999999", "1.5", "abc", "'8'", "true", "null",
           "[1, 2]", "[]", "{}", '"${1 / 0}"', '"${num_classes / 2}"', '"${nope}"', "1e400", ".nan"]
WORDS = ["archspec", "name", "params", "input", "defaults", "blocks", "graph", "outputs", "imports", "extends",
         "patch", "id", "op", "block", "in", "repeat", "first", "when", "out", "k", "stride", "padding", "act",
         "conv", "add", "concat", "dense", "flatten", "upsample", "res", "stem", "s1", "s2", "fc", "image",
         "size_of", "mode", "type", "default", "choices", "min", "max", "in_channels", "width", "num_classes",
         "<<", "-", "x", "", "c2", "proj", "true", "null", "${width}", "../x.yaml", "/etc/passwd"]
NOISE = st.text(alphabet=st.sampled_from(list(":{}[],&*!|>'\"%@`#-?$ \t\n\\.0123456789abcxyz")) | st.characters(),
                min_size=1, max_size=6)

mutation = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("duplicate"), st.integers(0, 10**6)),
    st.tuples(st.just("swap"), st.integers(0, 10**6), st.integers(0, 10**6)),
    st.tuples(st.just("number"), st.integers(0, 10**6), st.sampled_from(NUMBERS)),
    st.tuples(st.just("rename_key"), st.integers(0, 10**6), st.sampled_from(WORDS) | st.text("abcdefgxyz_", max_size=8)),
    st.tuples(st.just("word"), st.integers(0, 10**6), st.sampled_from(WORDS)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), NOISE),
    st.tuples(st.just("indent"), st.integers(0, 10**6), st.integers(-4, 4)),
    st.tuples(st.just("tab"), st.integers(0, 10**6)),
)

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_KEY = re.compile(r"([A-Za-z_<][\w<]*)\s*:")
_WORD = re.compile(r"[A-Za-z_][\w]*")


def _sub_nth(pattern: re.Pattern, text: str, n: int, repl: str, group: int = 0) -> str:
    hits = list(pattern.finditer(text))
    if not hits:
        return text
    m = hits[n % len(hits)]
    a, b = m.span(group)
    return text[:a] + repl + text[b:]


def mutate(text: str, m: tuple) -> str:
    kind = m[0]
    lines = text.split("\n")
    if kind == "delete" and len(lines) > 1:
        del lines[m[1] % len(lines)]
    elif kind == "duplicate":
        i = m[1] % len(lines)
        lines.insert(i, lines[i])
    elif kind == "swap":
        i, j = m[1] % len(lines), m[2] % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "number":
        return _sub_nth(_NUMBER, text, m[1], m[2])
    elif kind == "rename_key":
        return _sub_nth(_KEY, text, m[1], m[2], group=1)
    elif kind == "word":
        return _sub_nth(_WORD, text, m[1], m[2])
    elif kind == "insert":
        i = m[1] % (len(text) + 1)
        return text[:i] + m[2] + text[i:]
    elif kind == "indent":
        i = m[1] % len(lines)
        if m[2] >= 0:
            lines[i] = " " * m[2] + lines[i]
        else:
            lines[i] = lines[i][min(-m[2], len(lines[i]) - len(lines[i].lstrip(" "))):]
    elif kind == "tab":
        i = m[1] % len(lines)
        lines[i] = "\t" + lines[i]
    return "\n".join(lines)




def check(path: Path, text: str, overrides=None, source: str = "overrides") -> None:
    """Load and resolve: a Graph, or SpecErrors positioned inside the file."""
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    nlines = text.count("\n") + 1
    err = None
    timed_out = False
    try:
        with time_limit(10):
            try:
                archspec.resolve(archspec.load(path, overrides, override_source=source))
            except (SpecError, SpecErrors) as e:
                err = e
    except TimeLimit:
        timed_out = True
    assert not timed_out, "load + resolve took more than 10 s on:\n" + text
    if err is None:
        return
    errs = all_errors(err)
    assert errs and all(isinstance(e, SpecError) for e in errs)
    assert str(err)  # renders
    for e in errs:
        assert isinstance(e.message, str) and e.message, e
        assert e.loc is not None, e.render()
        if e.loc.file == str(path):
            assert 0 <= e.loc.line <= nlines, f"line {e.loc.line} outside the {nlines} lines: {e.render()}"
            assert e.loc.col >= 0
            if e.loc.line > 0:
                assert e.loc.col >= 1
        else:
            assert e.loc.line == 0 or Path(e.loc.file).exists(), e.render()


def test_base_spec_is_valid(tmp_path):
    p = tmp_path / "spec.yaml"
    p.write_text(BASE)
    g = archspec.resolve(archspec.load(p))
    assert g.outputs == ["fc", "cat"]
    assert g.shape_of("fc") == (1, 10) and g.shape_of("cat") == (1, 19, 32, 32)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_specs_fail_only_with_spec_errors(tmp_path, mutations):
    text = BASE
    for m in mutations:
        text = mutate(text, m)
    check(tmp_path / "spec.yaml", text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["num_classes", "width", "os", "deep", "nope", "num_class", ""]),
       value=st.sampled_from(["19", "-1", "0", "8", "1e9", "abc", "", "true", "${width}", "1.5", "99999999999999999999"])
       | st.text(max_size=8))
def test_set_overrides_fail_only_with_spec_errors(tmp_path, name, value):
    check(tmp_path / "spec.yaml", BASE, {name: value}, "--set")
