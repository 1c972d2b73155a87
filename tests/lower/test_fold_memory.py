"""The memory-conscious paths to a deployable Cell compute exactly what the plain ones compute:
`fold_bn_weights(consume=True)` (folds in place, empties its input), `rebuild(consume=True)` and
`from_checkpoint` (builds without random initial weights, straight from a checkpoint)."""
from __future__ import annotations

import numpy as np

import archspec
from archspec.graph.passes import fold_bn_weights
from conftest import conv_spec

SPEC = conv_spec("fm", 16, ["{id: stem, op: conv, out: 8, k: 3, stride: 2}",
                            "{id: dw, op: conv, out: 8, k: 3, depthwise: true, act: relu6}",
                            "{id: up, op: conv_transpose, out: 4, k: 2, stride: 2, bn: true}",
                            "{id: head, op: conv, out: 3, k: 1, bn: false, act: null}"], "head")


def _graph(tmp_path):
    path = tmp_path / "fm.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return archspec.resolve(archspec.load(path))


def _random_arrays(graph, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(0.5, 1.5, p.shape).astype(np.float32) for name, p in graph.parameters().items()}


def test_consuming_fold_is_bitwise_the_plain_fold_and_empties_its_input(tmp_path):
    graph = _graph(tmp_path)
    arrays = _random_arrays(graph)
    want = fold_bn_weights(graph, {k: v.copy() for k, v in arrays.items()})
    given = {k: v.copy() for k, v in arrays.items()}
    weight = given["stem.conv.weight"]
    got = fold_bn_weights(graph, given, consume=True)
    assert given == {}
    assert got["stem.conv.weight"] is weight  # folded in place: no second copy of the weights
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        assert got[name].dtype == want[name].dtype == np.float32


def test_from_checkpoint_equals_deploy_cell(ms, tmp_path):
    from archspec.lower import build_cell, run
    from archspec.lower.fold import deploy_cell, from_checkpoint, load_arrays, rebuild

    graph = _graph(tmp_path)
    net = build_cell(graph)
    load_arrays(net, _random_arrays(graph))
    ckpt = tmp_path / "w.ckpt"
    ms.save_checkpoint(net, str(ckpt))
    x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32))
    for fold in (False, True):
        _, plain = deploy_cell(net, fold=fold)
        folded_graph, direct = from_checkpoint(graph, str(ckpt), fold=fold)
        assert [p.name for p in direct.get_parameters()] == list(folded_graph.parameters())
        assert not direct.training
        np.testing.assert_array_equal(run(direct, x).asnumpy(), run(plain, x).asnumpy())
    arrays = _random_arrays(graph)
    rebuild(graph, arrays, fold=True, consume=True)
    assert arrays == {}
    kept = _random_arrays(graph)
    rebuild(graph, kept, fold=True)
    assert sorted(kept) == sorted(graph.parameters())  # without consume the caller's arrays stay
