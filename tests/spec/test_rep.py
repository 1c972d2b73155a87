"""Per-repetition values (`rep`, indexing of literal lists) and the input's height and width in
expressions (`in_height`, `in_width`); a multi-grid ResNet stage written with `rep` against its
PyTorch counterpart."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import archspec
from conftest import assert_at, load_resolve, one_error, pos, write

REPO = Path(__file__).resolve().parents[2]
HEAD = "archspec: 1\nname: t\ninput: {x: [1, 4, 12, 10]}\n"


def test_rep_indexes_a_list_per_repetition(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
graph:
  - {id: c, op: conv, repeat: 3, out: "${[8, 16, 32][rep]}", k: 3, dilation: "${[1, 2, 4][rep]}",
     first: {stride: "${rep + 2}"}}
""")
    g = load_resolve(p)
    assert [(n.name, n.args.dilation, n.args.stride, n.shape[1]) for n in g.nodes] == [
        ("c.0", 1, 2, 8), ("c.1", 2, 1, 16), ("c.2", 4, 1, 32)]


def test_rep_in_block_arguments(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  unit:
    params: {rate: 1}
    graph:
      - {id: conv, op: conv, out: 4, k: 3, dilation: "${rate}"}
graph:
  - {id: stage, block: unit, repeat: 3, rate: "${2 * [1, 2, 4][rep]}"}
""")
    assert [n.args.dilation for n in load_resolve(p).nodes] == [2, 4, 8]


def test_rep_outside_the_arguments_of_a_repeated_entry(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + 'graph:\n  - {id: c, op: conv, out: 8, k: 3, dilation: "${[1, 2][rep]}"}\n')
    e = one_error(p)
    assert_at(e, p, *pos(p, '"${[1, 2][rep]}"'))
    assert e.message == "unknown name 'rep'" and "repeat:" in e.hint
    p = write(tmp_path, "b.yaml", HEAD + 'graph:\n  - {id: c, op: conv, repeat: 2, out: 8, k: 3, when: "${rep == 0}"}\n')
    assert "when:" in one_error(p).hint


def test_index_out_of_range_is_positioned(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
graph:
  - {id: c, op: conv, repeat: 4, out: 8, k: 3, dilation: "${[1, 2, 4][rep]}"}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, '"${[1, 2, 4][rep]}"'))
    assert e.message == "index 3 is out of range for a list of 3 items in '[1, 2, 4][rep]'"
    assert e.hint == "indexes run from 0 to 2"


def test_input_height_and_width(tmp_path):
    p = write(tmp_path, "a.yaml", HEAD + """\
blocks:
  pool_all:
    params: {k: "${min(in_height, in_width)}"}
    graph:
      - {op: avgpool, k: "${k}"}
graph:
  - {id: c, op: conv, out: "${in_height + in_width}", k: 3, stride: 2}
  - {id: p, block: pool_all}
  - {id: f, op: flatten}
  - {id: d, op: dense, out: "${in_channels}", when: "${in_height == null}"}
""")
    g = load_resolve(p)
    assert g.node("c").shape == (1, 22, 6, 5)
    assert g.node("p.avgpool0").args.k == 5 and g.node("p.avgpool0").shape == (1, 22, 1, 1)
    assert g.node("d").shape == (1, 22)  # after flatten there is no height: in_height is null


@pytest.mark.parametrize("value", ['"${in_height}"', '"${in_width + 1}"', '"${max(in_height, 2)}"'])
def test_a_missing_axis_used_as_a_number_shows_the_input_shape(tmp_path, value):
    p = write(tmp_path, "a.yaml", HEAD + f"""\
graph:
  - {{id: f, op: flatten}}
  - {{id: d, op: dense, out: {value}}}
""")
    e = one_error(p)
    assert_at(e, p, *pos(p, value))
    assert "is not known here: this entry's input 'f' has shape [1, 480]" in e.message
    assert "axes 1, 2 and 3 of an NCHW input" in e.hint


def test_multigrid_stage_matches_pytorch(ms, tmp_path):
    """DeepLabV3's multi-grid: the last stage's unit rates (1, 2, 4) times the stage rate 2, one entry
    with `rep`. Same parameter count and outputs as the PyTorch stage (weights imported by a map)."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "tests"))
    import torch_ref as R
    from archspec.weights.importer import import_weights
    from archspec.weights.checkpoint import load_weights

    spec = write(tmp_path, "multigrid.yaml", """\
archspec: 1
name: multigrid
imports: [archspec:lib/resnet.yaml]
params: {rate: 2}
input: {x: [1, 64, 13, 13]}
graph:
  - {id: layer4, block: bottleneck, repeat: 3, out: 128, dilation: "${rate * [1, 2, 4][rep]}"}
""")
    write(tmp_path, "maps/multigrid.yaml", """\
archmap: 1
rules:
  - {from: "layer4.{b:int}.conv{k:int}.weight", to: "layer4.{b}.conv{k}.conv.weight"}
  - {from: "layer4.{b:int}.bn{k:int}.{p:bn}", to: "layer4.{b}.conv{k}.batchnorm.{p}"}
  - {from: "layer4.{b:int}.downsample.0.weight", to: "layer4.{b}.downsample.conv.weight"}
  - {from: "layer4.{b:int}.downsample.1.{p:bn}", to: "layer4.{b}.downsample.batchnorm.{p}"}
""")
    torch.manual_seed(0)
    model = torch.nn.Module()
    model.layer4 = R.multigrid_layer(64, 32, grid=(1, 2, 4), dilation=2)
    model.forward = model.layer4.forward
    model = R.randomize_bn(model.eval(), seed=0, input_shape=(2, 64, 13, 13)).eval()
    graph = archspec.resolve(archspec.load(spec))
    assert [n.args.dilation for n in graph.nodes if n.name.endswith("conv2")] == [2, 4, 8]
    assert graph.total_params == R.count_params(model)

    torch.save(model.state_dict(), tmp_path / "stage.pth")
    net = archspec.build(graph).net
    report = import_weights(graph, tmp_path / "stage.pth", tmp_path / "stage.ckpt")  # maps/ beside it
    assert report.complete
    load_weights(net, tmp_path / "stage.ckpt")
    x = np.random.default_rng(0).standard_normal((1, 64, 13, 13)).astype(np.float32)
    with torch.no_grad():
        want = model.double()(torch.from_numpy(x).double()).numpy()
    scale = float(np.abs(want).max())
    assert scale > 0.1
    for mode in (ms.PYNATIVE_MODE, ms.GRAPH_MODE):
        ms.set_context(mode=mode)
        try:
            got = net(ms.Tensor(x)).asnumpy()
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)
        assert got.shape == want.shape == (1, 128, 13, 13)
        assert float(np.abs(got - want).max()) <= 1e-5 * scale, mode
