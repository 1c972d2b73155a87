"""pad up to a size (`size: [h, w]` or `size_of: NAME`): diff // 2 before and the rest after, as
milesial's U-Net pads an upsampled map to its skip; errors positioned in the spec."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

import archspec
from archspec.ops import ShapeError, get
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import make_node


def test_pads_centred_up_to_the_size():
    n = make_node("p", "pad", {"size": [9, 8]}, [(1, 4, 6, 5)])
    assert n.shape == (1, 4, 9, 8) and n.args.pad == (1, 2, 1, 2)
    assert make_node("p", "pad", {"size": [6, 5]}, [(1, 4, 6, 5)]).args.pad == (0, 0, 0, 0)
    with pytest.raises(ShapeError) as e:
        make_node("p", "pad", {"size": [5, 5]}, [(1, 4, 6, 5)])
    assert e.value.arg == "size" and "it is smaller" in e.value.message


@pytest.mark.parametrize("args", [{}, {"pad": 1, "size_of": "x"}, {"size": [4, 4], "size_of": "x"},
                                  {"pad": 1, "size": [4, 4]}, {"size": [0, 4]}])
def test_one_way_to_say_how_much(args):
    with pytest.raises(ValidationError):
        get("pad").args(**args)


def test_size_of_reads_another_node(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n"
                 "  - {id: down, op: maxpool, k: 2, ceil_mode: true, in: image}\n"
                 "  - {id: small, op: maxpool, k: 3}\n"
                 "  - {id: grown, op: pad, size_of: down}\n")
    graph = archspec.resolve(archspec.load(path))
    assert graph.shape_of("grown") == (1, 3, 16, 16) and graph.node("grown").args.pad == (5, 6, 5, 6)
    bad = write(tmp_path, "u.yaml", HEAD + "graph:\n  - {id: grown, op: pad, size_of: imag}\n")
    err = one_error(bad)
    assert_at(err, bad, *pos(bad, "imag}"))
    smaller = write(tmp_path, "v.yaml", HEAD + "graph:\n"
                    "  - {id: small, op: maxpool, k: 2}\n"
                    "  - {id: grown, op: pad, in: image, size_of: small}\n")
    err = one_error(smaller)
    assert_at(err, smaller, *pos(smaller, "small}"))
    assert "cannot pad the 32x32 input [1, 3, 32, 32] up to the size of 'small', 16x16" in err.message
