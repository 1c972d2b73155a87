"""Issue 13 (hardening), the spec side: every bound on a spec is a positioned error that names its
limit, reached in bounded time and memory; special files are refused without hanging; inputs that
used to end in "internal error" or in a misleading message get a positioned one."""
from __future__ import annotations

import os
import time
import tracemalloc

import pytest
from conftest import HEAD, catch, errors_of, pos, time_limit, write

import archspec
from archspec import limits
from archspec.errors import Location, SpecError


def only(errs):
    assert len(errs) == 1, "\n".join(e.render() for e in errs)
    return errs[0]


def at(e: SpecError, path, needle: str, occurrence: int = 1) -> None:
    line, col = pos(path, needle, occurrence)
    assert (e.loc.file, e.loc.line, e.loc.col) == (str(path), line, col), e.render()


@pytest.fixture
def peak_mb():
    """The Python heap's high-water mark (MB) while the test body runs (NumPy and str included)."""
    tracemalloc.start()
    yield lambda: tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()


# -- item 1: text expansion ---------------------------------------------------------------------

def test_text_that_multiplies_stops_at_its_param_with_the_limit(tmp_path, peak_mb):
    # each param repeats the one before ten times: s6 would be 10**7 characters
    lines = ["params:", '  s0: "abcdefghij"']
    lines += [f'  s{i}: "' + "${s%d}" % (i - 1) * 10 + '"' for i in range(1, 7)]
    p = write(tmp_path, "bomb.yaml", HEAD + "\n".join(lines) + "\ngraph:\n  - {op: act, fn: relu}\n")
    e = only(errors_of(p))
    at(e, p, '"${s3}')  # s4 = 100,000 characters, over the 10,000 of one text value
    assert f"{limits.TEXT_CHARS:,}" in e.message and e.path == "params.s4"
    assert peak_mb() < 20


def test_all_the_text_together_is_bounded(tmp_path, peak_mb):
    # 120 values of 9,001 characters each: 1.08 million characters in all
    big = "x" * 9000
    lines = ["params:", f"  s: {big}"] + [f'  p{i}: "${{s}}-"' for i in range(120)]
    p = write(tmp_path, "wide.yaml", HEAD + "\n".join(lines) + "\ngraph:\n  - {op: act, fn: relu}\n")
    e = only(errors_of(p))
    assert isinstance(e, limits.LimitError)
    assert f"{limits.EXPANDED_CHARS:,}" in e.message and "characters" in e.message
    n = limits.EXPANDED_CHARS // 9001  # the value that goes over
    at(e, p, '"${s}-"', n + 1)
    assert e.path == f"params.p{n}"
    assert peak_mb() < 40


# -- item 2: work that makes no nodes -------------------------------------------------------------

def test_expression_evaluations_are_counted_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "EXPR_EVALUATIONS", 50)
    lines = ["params:"] + [f'  p{i}: "${{{i} + 1}}"' for i in range(60)]
    p = write(tmp_path, "many.yaml", HEAD + "\n".join(lines) + "\ngraph:\n  - {op: act, fn: relu}\n")
    e = only(errors_of(p))
    assert "more than 50 evaluations" in e.message
    at(e, p, '"${50 + 1}"')


def test_300k_tiny_expressions_end_quickly_at_the_real_bound(tmp_path):
    rows = [f'  p{i}: "' + "${1}" * 20 + '"' for i in range(15_000)]  # 300,000 expressions, 1.4 MB
    p = write(tmp_path, "tiny.yaml", HEAD + "params:\n" + "\n".join(rows) + "\ngraph:\n  - {op: act, fn: relu}\n")
    t0 = time.perf_counter()
    with time_limit(20):
        e = only(errors_of(p))
    assert time.perf_counter() - t0 < 20
    assert f"{limits.EXPR_EVALUATIONS:,} evaluations" in e.message and e.loc.line > 4


SKIPPING_BLOCK = HEAD + """\
blocks:
  skip:
    graph:
      - {op: act, fn: relu, when: false}
  outer:
    graph:
      - {block: skip, repeat: 999}
graph:
  - {op: act, fn: relu}
"""


def test_a_billion_repetitions_that_make_no_node_fail_at_once(tmp_path):
    p = write(tmp_path, "rep.yaml", SKIPPING_BLOCK + "  - {block: skip, repeat: 1000000000}\n")
    with time_limit(5):
        e = only(errors_of(p))
    at(e, p, "1000000000")
    assert f"{limits.EXPANSIONS:,} entries" in e.message and "skipped ones included" in e.message


def test_nested_repetitions_that_make_no_node_are_bounded(tmp_path):
    p = write(tmp_path, "rep.yaml", SKIPPING_BLOCK + "  - {block: outer, repeat: 300}\n")  # 300 x 999 entries
    t0 = time.perf_counter()
    with time_limit(20):
        e = only(errors_of(p))
    assert f"{limits.EXPANSIONS:,} entries" in e.message and e.loc.file == str(p)
    assert time.perf_counter() - t0 < 20


# -- item 3: special files --------------------------------------------------------------------------

def test_a_fifo_is_refused_as_spec_and_as_import_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with time_limit(5):
        e = only(catch(archspec.load, fifo))
    assert "FIFO" in e.message and e.loc.file == str(fifo)
    p = write(tmp_path, "spec.yaml", HEAD + "imports: [pipe.yaml]\ngraph:\n  - {op: act, fn: relu}\n")
    with time_limit(5):
        e = only(catch(archspec.load, p))
    assert "not a regular file" in e.message or "FIFO" in e.message
    at(e, p, "pipe.yaml")


def test_a_device_is_refused_as_spec_and_as_import(tmp_path):
    with time_limit(5):
        e = only(catch(archspec.load, "/dev/zero"))
    assert "a device" in e.message and e.loc.file == "/dev/zero"
    p = write(tmp_path, "spec.yaml", HEAD + "imports: [/dev/zero]\ngraph:\n  - {op: act, fn: relu}\n")
    with time_limit(5):
        e = only(catch(archspec.load, p, allow_outside_imports=True))
    at(e, p, "/dev/zero")


def test_a_spec_that_grows_while_read_is_cut_at_the_limit(tmp_path, monkeypatch):
    from archspec.files import read_regular

    f = tmp_path / "x.yaml"
    f.write_text("a" * 100)
    with pytest.raises(limits.LimitError):
        read_regular(f, 99, loc=Location(str(f)))
    assert len(read_regular(f, 100, loc=Location(str(f)))) == 100


# -- item 11: positioned errors where "internal error" came ------------------------------------------

def test_symlink_loops_are_positioned(tmp_path):
    loop = tmp_path / "loop.yaml"
    os.symlink(loop, loop)
    e = only(catch(archspec.load, loop))
    assert "symbolic link loop" in e.message and e.loc.file == str(loop)
    p = write(tmp_path, "spec.yaml", HEAD + "imports: [loop.yaml]\ngraph:\n  - {op: act, fn: relu}\n")
    e = only(catch(archspec.load, p))
    at(e, p, "loop.yaml")


def test_long_extends_chains_stop_at_the_limit(tmp_path):
    n = 40
    write(tmp_path, "s0.yaml", HEAD + "graph:\n  - {op: act, fn: relu}\n")
    for i in range(1, n):
        write(tmp_path, f"s{i}.yaml", f"archspec: 1\nname: s{i}\nextends: s{i - 1}.yaml\n")
    top = tmp_path / f"s{n - 1}.yaml"
    errs = catch(archspec.load, top)
    e = errs[0]
    assert isinstance(e, limits.LimitError) and f"more than {limits.SPEC_CHAIN} levels" in e.message
    assert e.loc.line == 3 and e.path == "extends"


def test_long_import_chains_stop_at_the_limit(tmp_path):
    n = 40
    write(tmp_path, "l0.yaml", "archspec: 1\nname: l0\nblocks:\n  b0: {graph: [{op: act, fn: relu}]}\n")
    for i in range(1, n):
        write(tmp_path, f"l{i}.yaml", f"archspec: 1\nname: l{i}\nimports: [l{i - 1}.yaml]\n")
    p = write(tmp_path, "spec.yaml", HEAD + f"imports: [l{n - 1}.yaml]\ngraph:\n  - {{block: b0}}\n")
    errs = catch(archspec.load, p)
    assert any(f"more than {limits.SPEC_CHAIN} levels" in e.message for e in errs), errs[0].render()


def test_infinite_and_huge_upsample_scales_are_positioned(tmp_path):
    p = write(tmp_path, "inf.yaml", HEAD + "graph:\n  - {op: upsample, mode: nearest, scale: .inf}\n")
    e = only(errors_of(p))
    at(e, p, ".inf")
    assert "finite" in e.message
    p = write(tmp_path, "huge.yaml", HEAD + "graph:\n  - {op: upsample, mode: nearest, scale: 1.0e+300}\n")
    e = only(errors_of(p))
    assert e.loc.file == str(p) and e.loc.line == 5
    assert "a tensor of about 10^60" in e.message and len(e.message) < 200  # its magnitude, not 600 digits


def test_ids_are_bounded_by_the_schema(tmp_path):
    long_id = "n" * 1000
    p = write(tmp_path, "id.yaml", HEAD + f"graph:\n  - {{id: {long_id}, op: act, fn: relu}}\n")
    e = only(errors_of(p))
    at(e, p, long_id)
    assert f"at most {limits.ID_CHARS} characters" in e.message


def test_full_node_names_are_bounded(tmp_path):
    ident = "b" * 99
    blocks = "".join(f"  k{i}:\n    graph:\n      - {{id: {ident}, block: k{i + 1}}}\n" for i in range(12))
    p = write(tmp_path, "deep.yaml", HEAD + "blocks:\n" + blocks + "  k12:\n    graph:\n      - {op: act, fn: relu}\n"
              "graph:\n  - {id: " + ident + ", block: k0}\n")
    e = only(errors_of(p))
    assert f"the limit is {limits.NAME_CHARS:,}" in e.message and e.loc.file == str(p)


def test_a_huge_input_shape_is_refused_at_the_option(tmp_path):
    p = write(tmp_path, "s.yaml", HEAD + "graph:\n  - {op: act, fn: relu}\n")
    spec = archspec.load(p)
    e = only(catch(archspec.resolve, spec, (1, 3, 10**6, 10**6)))
    assert e.loc.file == "--input-shape" and f"{limits.TENSOR_ELEMENTS:,}" in e.message
    q = write(tmp_path, "big.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 100000, 100000]}\n"
              "graph:\n  - {op: act, fn: relu}\n")
    e = only(errors_of(q))
    at(e, q, "[1, 3, 100000")


def test_a_node_whose_output_is_too_large_is_positioned(tmp_path):
    p = write(tmp_path, "s.yaml", HEAD + "graph:\n  - {op: act, fn: relu}\n  - {op: upsample, mode: nearest, "
              "scale: 2000}\n")
    e = only(errors_of(p))
    assert e.loc.line == 6 and "elements" in e.message


# -- item 12: misleading messages ---------------------------------------------------------------------

def test_set_width_nan_says_not_finite(tmp_path):
    p = write(tmp_path, "s.yaml", HEAD + "params: {width: 1.0}\ngraph:\n  - {op: act, fn: relu}\n")
    for value in ("nan", "inf", "-inf"):
        e = only(catch(archspec.load, p, {"width": value}, override_source="--set"))
        assert e.loc.file == "--set" and "finite" in e.message and "too large" not in e.message


@pytest.mark.parametrize("entry, needle", [
    ("{op: act, fn: leakyrelu, alpha: .nan}", ".nan"),
    ("{op: conv, out: 4, k: 1, bn: true, eps: .inf}", ".inf"),
    ("{op: conv, out: 4, k: 1, act: leakyrelu, alpha: -.inf}", "-.inf"),
    ("{op: batchnorm, momentum: .nan}", ".nan"),
    ("{op: dropout, p: .nan}", ".nan"),
])
def test_non_finite_op_arguments_are_errors_at_the_value(tmp_path, entry, needle):
    p = write(tmp_path, "s.yaml", HEAD + f"graph:\n  - {entry}\n")
    e = only(errors_of(p))
    at(e, p, needle)
    assert "finite" in e.message


def test_a_trillion_parameters_do_not_validate(tmp_path):
    p = write(tmp_path, "s.yaml", HEAD + "graph:\n  - {op: flatten}\n  - {op: dense, out: 1000000000}\n")
    e = only(errors_of(p))
    assert isinstance(e, limits.LimitError) and f"{limits.GRAPH_PARAMS:,} parameters" in e.message
    assert e.loc.line == 6
