"""The installed library and the file lookup: `archspec:` names, ARCHSPEC_PATH, the own folder
first, the outside-folder rule, regular files only, and the default weight map."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.spec import library
from conftest import assert_at, load_resolve, one_error, pos, write

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
LIB = "archspec: 1\nname: {name}\nblocks:\n  unit:\n    graph:\n      - {{op: conv, out: {out}, k: 1}}\n"
USES_UNIT = "archspec: 1\nname: a\ninput: {x: [1, 3, 8, 8]}\nimports: ['%s']\ngraph:\n  - {block: unit}\n"


@pytest.fixture(autouse=True)
def no_search_path(monkeypatch):
    monkeypatch.delenv(library.ENV, raising=False)


def validate(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "archspec", "validate", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=120)


def test_installed_root_is_the_shipped_specs():
    assert library.installed_root() == SPECS.resolve()


def test_a_spec_copied_to_an_empty_folder_validates_anywhere(tmp_path):
    for name in ("deeplabv3p.yaml", "deeplabv3p_mobilenetv2.yaml", "resnet50.yaml", "mobilenetv2.yaml"):
        shutil.copy(SPECS / name, tmp_path / name)
    shutil.copy(SPECS / "deeplabv3p_resnet101.yaml", tmp_path / "r101.yaml")  # extends deeplabv3p.yaml beside it
    r = validate(*sorted(p.name for p in tmp_path.iterdir()), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok ") == 5 and "40,352,181 params" in r.stdout and "59,344,309 params" in r.stdout
    g = load_resolve(tmp_path / "deeplabv3p.yaml")
    assert g.total_params == 40_352_181


def test_package_qualified_names(tmp_path):
    child = write(tmp_path, "city.yaml", "archspec: 1\nname: city\nextends: archspec:deeplabv3p_mobilenetv2.yaml\n"
                                         "params: {num_classes: 19, size: 65}\nlabels: cityscapes\n")
    own = write(tmp_path, "own.yaml", "archspec: 1\nname: own\ninput: {x: [1, 64, 9, 9]}\n"
                                      "imports: [archspec:lib/resnet.yaml]\ngraph:\n"
                                      "  - {id: layer, block: bottleneck, out: 256}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = validate(child, own, cwd=elsewhere)  # any folder: nothing is relative to the current one
    assert r.returncode == 0, r.stderr
    g = load_resolve(child)
    assert g.node("out").shape == (1, 19, 65, 65)
    spec = archspec.load(child)
    assert str(SPECS.resolve() / "lib" / "mobilenetv2.yaml") in spec.files


def test_a_command_names_a_shipped_spec_by_its_library_name(tmp_path):
    r = validate("archspec:deeplabv3p_mobilenetv2.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "ok archspec:deeplabv3p_mobilenetv2.yaml" in r.stdout
    spec = archspec.load("archspec:deeplabv3p_mobilenetv2.yaml")
    assert spec.file == str(SPECS.resolve() / "deeplabv3p_mobilenetv2.yaml")  # messages show the real file
    r = validate("archspec:deeplabv3.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "SPEC: 'archspec:deeplabv3.yaml' is not in the installed library" in r.stderr
    assert "did you mean 'deeplabv3p.yaml'" in r.stderr and "Traceback" not in r.stderr


def test_lookup_order_own_folder_then_search_path_then_library(tmp_path, monkeypatch):
    p = write(tmp_path, "a.yaml", USES_UNIT % "lib/resnet.yaml")
    with pytest.raises(archspec.SpecError, match="unknown block 'unit'"):  # the installed lib/resnet.yaml
        load_resolve(p)
    on_path = tmp_path / "shared"
    write(on_path, "lib/resnet.yaml", LIB.format(name="shared", out=5))
    monkeypatch.setenv(library.ENV, os.pathsep.join([str(tmp_path / "missing"), "", str(on_path)]))
    assert load_resolve(p).nodes[0].shape == (1, 5, 8, 8)
    write(tmp_path, "lib/resnet.yaml", LIB.format(name="own", out=7))
    assert load_resolve(p).nodes[0].shape == (1, 7, 8, 8)  # the spec's own folder wins


def test_not_found_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(library.ENV, str(tmp_path / "shared"))
    p = write(tmp_path, "a.yaml", USES_UNIT % "lib/nope.yaml")
    e = one_error(p)
    assert_at(e, p, *pos(p, "'lib/nope.yaml'"))
    assert "file not found: 'lib/nope.yaml'" in e.message
    assert str(tmp_path) in e.message and "ARCHSPEC_PATH" in e.message and "installed library" in e.message


@pytest.mark.parametrize("target, message", [
    ("archspec:lib/resnt.yaml", "not in the installed library"),
    ("archspec:../pyproject.toml", "inside the installed library"),
    ("archspec:/etc/hostname", "inside the installed library"),
    ("archspec:", "inside the installed library"),
])
def test_bad_package_names(tmp_path, target, message):
    p = write(tmp_path, "a.yaml", USES_UNIT % target)
    e = one_error(p)
    assert_at(e, p, *pos(p, f"'{target}'"))
    assert message in e.message
    if target.endswith("resnt.yaml"):
        assert "lib/resnet.yaml" in e.hint


def test_relative_paths_stay_inside_their_folder(tmp_path, monkeypatch):
    write(tmp_path, "x.yaml", LIB.format(name="x", out=4))
    p = write(tmp_path, "sub/a.yaml", USES_UNIT % "../x.yaml")
    e = one_error(p)
    assert "'../x.yaml' leads outside the folder of a.yaml" in e.message
    assert "absolute path" in e.hint and "ARCHSPEC_PATH" in e.hint and "--allow-outside-imports" in e.hint
    monkeypatch.setenv(library.ENV, str(tmp_path / "sub"))  # ".." is refused on the search path too
    assert "leads outside" in one_error(p).message
    # what the user wrote as an absolute path is read as written, with no flag
    q = write(tmp_path, "sub/b.yaml", USES_UNIT % (tmp_path / "x.yaml"))
    assert load_resolve(q).nodes[0].shape == (1, 4, 8, 8)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    write(tmp_path, "x.yaml", LIB.format(name="x", out=4))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "link.yaml").symlink_to(tmp_path / "x.yaml")
    p = write(tmp_path, "sub/a.yaml", USES_UNIT % "link.yaml")
    e = one_error(p)
    assert "leads outside" in e.message and "symbolic link" in e.message
    assert len(load_resolve(p, allow_outside_imports=True).nodes) == 1


def test_only_regular_files_are_read(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "dir.yaml").mkdir()
    for target, kind in [("fifo.yaml", "not a regular file"), (str(tmp_path / "fifo.yaml"), "not a regular file"),
                         ("dir.yaml", "a folder")]:
        p = write(tmp_path, "a.yaml", USES_UNIT % target)
        e = one_error(p)  # returns at once: a FIFO is never opened
        assert kind in e.message


def test_default_weight_map_follows_the_lookup(tmp_path, monkeypatch):
    from archspec.weights.maps import default_map_path

    spec = tmp_path / "resnet50.yaml"
    shutil.copy(SPECS / "resnet50.yaml", spec)
    assert default_map_path(spec, "resnet50") == SPECS.resolve() / "maps" / "resnet50.yaml"
    shared = write(tmp_path / "shared", "maps/resnet50.yaml", "archmap: 1\nrules: []\n")
    monkeypatch.setenv(library.ENV, str(tmp_path / "shared"))
    assert default_map_path(spec, "resnet50") == shared
    own = write(tmp_path, "maps/resnet50.yaml", "archmap: 1\nrules: []\n")
    assert default_map_path(spec, "resnet50") == own
    # a spec without a map of its own uses the map of the spec it extends (nearest first)
    child = write(tmp_path / "elsewhere", "mine.yaml", "archspec: 1\nname: mine\n"
                                                       "extends: archspec:deeplabv3p_resnet101.yaml\n")
    assert default_map_path(child, "mine") == SPECS.resolve() / "maps" / "deeplabv3p_resnet101.yaml"
    lone = write(tmp_path / "elsewhere", "lone.yaml", "archspec: 1\nname: lone\n")
    assert default_map_path(lone, "lone") == tmp_path / "elsewhere" / "maps" / "lone.yaml"  # for the message


def test_installed_lists_specs_libraries_and_maps():
    got = library.installed()
    specs = {e.ref: e for e in got.specs}
    assert set(specs) == {f"archspec:{p.name}" for p in SPECS.glob("*.yaml")}
    assert specs["archspec:deeplabv3p.yaml"].name == "deeplabv3p_resnet50"
    assert specs["archspec:deeplabv3p.yaml"].description.startswith("DeepLabV3+ (Chen et al. 2018")
    libs = {e.ref: e for e in got.libraries}
    assert [b for b, _ in libs["archspec:lib/resnet.yaml"].blocks] == ["bottleneck"]
    assert {b for b, _ in libs["archspec:lib/deeplab.yaml"].blocks} == {"aspp", "decoder"}
    assert "archspec:maps/lib/vainf_deeplabv3p_head.yaml" in {e.ref for e in got.maps}
    data = got.to_json()
    assert data["root"] == str(SPECS.resolve()) and data["libraries"][0]["blocks"]


def test_weights_import_from_a_copied_spec_uses_the_installed_map(ms, tmp_path):
    """A spec copied to an empty folder builds and imports PyTorch weights through its default map."""
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(REPO / "tests"))
    import torch_ref as R
    from archspec.weights.importer import import_weights

    spec = tmp_path / "mobilenetv2.yaml"
    shutil.copy(SPECS / "mobilenetv2.yaml", spec)
    torch.manual_seed(0)
    src = tmp_path / "mbv2.pth"
    torch.save(R.mobilenet_v2().state_dict(), src)
    graph = archspec.resolve(archspec.load(spec, {"size": 32}))
    net = archspec.build(graph).net
    report = import_weights(graph, src, tmp_path / "mbv2.ckpt")
    assert report.map == str(SPECS.resolve() / "maps" / "mobilenetv2.yaml")
    assert report.complete and report.written == report.total == sum(1 for _ in net.get_parameters())


def test_child_of_an_installed_spec_builds_from_any_folder(ms, tmp_path, monkeypatch):
    write(tmp_path, "city.yaml", "archspec: 1\nname: city\nextends: archspec:deeplabv3p_mobilenetv2.yaml\n"
                                         "params: {num_classes: 19, size: 33}\nlabels: cityscapes\n")
    monkeypatch.chdir(tmp_path)
    graph = archspec.resolve(archspec.load("city.yaml"))
    net = archspec.build(graph).net
    assert sum(int(p.size) for p in net.trainable_params()) == graph.total_params
    assert net(ms.Tensor(__import__("numpy").zeros((1, 3, 33, 33), "float32"))).shape == (1, 19, 33, 33)
