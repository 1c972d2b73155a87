"""`archspec build` and `archspec graph` as a user runs them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def archspec(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "archspec.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_build_json_reports_graph_and_cell():
    r = archspec("build", "specs/deeplabv3p_mobilenetv2.yaml", "--set", "size=65", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["total_params"] == report["cell_params"] == 5_816_053
    assert report["conv2dbnact_cells"] == sum(1 for n in report["nodes"] if "bn" in n["kind"].split("+"))
    assert report["unfused_conv_bn"] == []
    assert report["outputs"] == {"out": [1, 21, 65, 65]}
    assert report["total_flops"] == 2 * report["total_macs"] == 2 * sum(n["macs"] for n in report["nodes"])
    assert set(report["timings_s"]) >= {"load", "resolve", "lower"}


def test_build_table_and_input_shape_override():
    r = archspec("build", "specs/resnet50.yaml", "--input-shape", "1,3,96,96")
    assert r.returncode == 0, r.stderr
    assert "25,557,032" in r.stdout
    assert "layer4.2.conv3" in r.stdout and "1x2048x3x3" in r.stdout
    assert "nn.Conv2dBnAct cells with BN: 53" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["build", "specs/nope.yaml"], "file not found"),
    (["build", "specs/resnet50.yaml", "--input-shape", "1,3,0,5"], "positive integers"),
    (["build", "specs/resnet50.yaml", "--input-shape", "1,3,8"], "4-D NCHW"),
    (["build", "specs/resnet50.yaml", "--set", "num_clases=3"], "did you mean 'num_classes'"),
    (["build", "specs/deeplabv3p.yaml", "--set", "output_stride=32"], "must be one of 8, 16"),
])
def test_build_bad_input_is_one_clean_message(args, needle):
    r = archspec(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_graph_writes_dot_with_clusters_and_refuses_overwrite(tmp_path):
    out = tmp_path / "g.dot"
    r = archspec("graph", "specs/resnet50.yaml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert text.startswith('digraph "resnet50"')
    assert 'label="layer2.0 (bottleneck)"' in text  # a block instance is a cluster
    assert text.count("conv+bn") == 53  # one box per ConvBnAct unit
    again = archspec("graph", "specs/resnet50.yaml", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    nested = archspec("graph", "specs/resnet50.yaml", "--out", str(tmp_path / "new" / "folder" / "g.dot"))
    assert nested.returncode == 0 and (tmp_path / "new" / "folder" / "g.dot").is_file()  # like mkdir -p
    assert not list(tmp_path.glob(".g.dot*")), "no temporary file left behind"


def test_graph_svg_without_graphviz_is_a_clear_message(tmp_path, monkeypatch):
    import shutil

    if shutil.which("dot"):
        pytest.skip("Graphviz is installed here")
    r = archspec("graph", "specs/resnet50.yaml", "--out", str(tmp_path / "g.svg"))
    assert r.returncode == 2 and "Graphviz" in r.stderr
    assert not (tmp_path / "g.svg").exists()


def test_a_failed_build_leaves_no_output_folders(tmp_path):
    spec = tmp_path / "bad.yaml"  # refused after --save-ckpt's folders were checked (and made)
    spec.write_text("archspec: 1\nname: bad\ninput: {x: [1, 4, 8, 8]}\ngraph:\n"
                    "  - {op: conv, out: 4, k: 3, depthwise: true, groups: 2}\n")
    r = archspec("build", str(spec), "--save-ckpt", str(tmp_path / "out" / "deep" / "w.ckpt"))
    assert r.returncode == 2 and "not both" in r.stderr
    assert not (tmp_path / "out").exists()
    good = tmp_path / "good.yaml"
    good.write_text(spec.read_text().replace(", groups: 2", ""))
    r = archspec("build", str(good), "--save-ckpt", str(tmp_path / "out" / "deep" / "w.ckpt"))
    assert r.returncode == 0 and (tmp_path / "out" / "deep" / "w.ckpt").is_file()
