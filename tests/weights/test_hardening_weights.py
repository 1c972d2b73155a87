"""Issue 13 (hardening), weights: every weight reader and the map reader take regular files only
(no FIFO hang, no endless device), compressed files are sized from their headers before anything
is unpacked, `weights show` reads no tensor data, map patterns cannot backtrack exponentially,
broken checkpoints and non-finite weights get their own clear messages."""
from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import peak_rss_growth_mb, time_limit
from typer.testing import CliRunner

import archspec
from archspec import limits
from archspec.errors import SpecError
from archspec.weights.sources import list_source, read_source

SUFFIXES = (".npz", ".pth", ".safetensors", ".ckpt")

TINY = """\
archspec: 1
name: tiny
input: {image: [1, 3, 8, 8]}
graph:
  - {id: stem, op: conv, out: 4, k: 3, bn: true, act: relu}
  - {id: pool, op: global_avgpool}
  - {id: flat, op: flatten}
  - {id: fc, op: dense, out: 3}
"""


# -- item 3: special files -----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_fifo_weight_file_is_refused_without_hanging(tmp_path, suffix):
    fifo = tmp_path / f"w{suffix}"
    os.mkfifo(fifo)
    for fn in (read_source, list_source):
        with time_limit(5), pytest.raises(SpecError) as info:
            fn(fifo)
        assert "FIFO" in info.value.message and info.value.loc.file == str(fifo)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_device_behind_a_weight_file_name_is_refused(tmp_path, suffix):
    link = tmp_path / f"zero{suffix}"
    os.symlink("/dev/zero", link)
    with time_limit(5), pytest.raises(SpecError) as info:
        read_source(link)
    assert "a device" in info.value.message


def test_a_fifo_or_device_map_is_refused(tmp_path):
    from archspec.weights.maps import load_map

    fifo = tmp_path / "m.yaml"
    os.mkfifo(fifo)
    link = tmp_path / "z.yaml"
    os.symlink("/dev/zero", link)
    for path, what in ((fifo, "FIFO"), (link, "a device")):
        with time_limit(5), pytest.raises(SpecError) as info:
            load_map(path)
        assert what in info.value.message and info.value.loc.file == str(path)


def test_symlink_loop_weights_and_map_are_positioned(tmp_path):
    from archspec.weights.maps import load_map

    for name in ("w.npz", "m.yaml"):
        loop = tmp_path / name
        os.symlink(loop, loop)
    with pytest.raises(SpecError, match="symbolic link loop"):
        read_source(tmp_path / "w.npz")
    with pytest.raises(SpecError, match="symbolic link loop"):
        load_map(tmp_path / "m.yaml")


# -- item 4: compressed files ---------------------------------------------------------------------------

def test_an_npz_that_unpacks_beyond_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    p = tmp_path / "bomb.npz"
    np.savez_compressed(p, a=np.zeros(2_000_000, np.float32))  # 8 MB unpacked, a few KB on disk
    assert p.stat().st_size < 100_000
    monkeypatch.setattr(limits, "WEIGHT_BYTES", 1_000_000)
    for fn in (read_source, list_source):
        grew, _ = peak_rss_growth_mb(lambda: pytest.raises(limits.LimitError, fn, p))
        assert grew < 5
    with pytest.raises(limits.LimitError, match="unpacked; the limit is 1,000,000"):
        read_source(p)


def test_an_npz_member_whose_header_lies_is_refused(tmp_path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    buf.write(b"\0" * 80)  # 8 GB declared, 80 bytes there
    p = tmp_path / "liar.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", buf.getvalue())
    for fn in (read_source, list_source):
        grew, _ = peak_rss_growth_mb(lambda: pytest.raises(SpecError, fn, p))
        assert grew < 5
    with pytest.raises(SpecError, match="declares 8,000,000,000 bytes"):
        read_source(p)


def test_a_compressed_pth_is_sized_before_torch_unpacks_it(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    plain, packed = tmp_path / "plain.pth", tmp_path / "packed.pth"
    torch.save({"w": torch.zeros(2_000_000)}, plain)
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    assert packed.stat().st_size < 100_000
    monkeypatch.setattr(limits, "WEIGHT_BYTES", 1_000_000)
    with pytest.raises(limits.LimitError, match="the limit is 1,000,000"):
        read_source(packed)
    assert list_source(packed)[0] == [("w", (2_000_000,), "float32")]  # listing reads no data


@pytest.mark.parametrize("fmt", ["npz", "pth", "safetensors", "ckpt"])
def test_weights_show_reads_no_tensor_data(tmp_path, fmt):
    """100 MB of tensors (compressed where the format allows): `show` lists them in a few MB."""
    big = np.zeros((25_000_000,), np.float32)
    p = tmp_path / f"w.{fmt}"
    if fmt == "npz":
        np.savez_compressed(p, big=big, small=np.ones(3, np.float32))
    elif fmt == "pth":
        torch = pytest.importorskip("torch")
        plain = tmp_path / "plain.pth"
        torch.save({"big": torch.from_numpy(big), "small": torch.ones(3)}, plain)
        with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, zin.read(info.filename))
        plain.unlink()
    elif fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file({"big": big, "small": np.ones(3, np.float32)}, str(p))
    else:
        pytest.importorskip("mindspore")
        from archspec.weights.checkpoint import write_checkpoint

        write_checkpoint({"big": big[:10_000_000], "small": np.ones(3, np.float32)}, p)
    del big
    grew, listing = peak_rss_growth_mb(lambda: archspec.show_weights(p))
    names = {name: (shape, dtype) for name, shape, dtype in listing.tensors}
    assert names["small"] == ((3,), "float32") and names["big"][1] == "float32"
    budget = 60 if fmt == "ckpt" else 10  # a .ckpt is protobuf: parsed whole (uncompressed, <= 2 GiB)
    assert grew < budget, f"{fmt}: show grew the peak memory by {grew} MB"


# -- item 5: map patterns -------------------------------------------------------------------------------

def _map(tmp_path: Path, pattern: str) -> Path:
    p = tmp_path / "m.yaml"
    p.write_text(f'archmap: 1\nrules:\n  - {{from: "{pattern}", to: "x"}}\n')
    return p


@pytest.mark.parametrize("pattern, says", [
    ("{a}{b}{c}{d}{e}{f}{g}{h}", "touch"),
    ("layer{s:int}{b:int}", "touch"),
    ("{a}_{b}.weight", "followed by '_'"),
    ("conv{k:int}0.weight", "followed by the digit"),
    ("{a:path}.{b:path}", "one such placeholder"),
])
def test_ambiguous_patterns_are_refused_at_the_pattern(tmp_path, pattern, says):
    from archspec.weights.maps import load_map

    p = _map(tmp_path, pattern)
    with pytest.raises(SpecError) as info:
        load_map(p)
    assert says in info.value.message
    assert (info.value.loc.line, info.value.loc.col) == (3, 12), info.value.render()  # at the pattern


def resnet50_names() -> list[str]:
    names = ["conv1.weight"] + [f"bn1.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
    for s, blocks in enumerate((3, 4, 6, 3), 1):
        for b in range(blocks):
            for k in (1, 2, 3):
                names.append(f"layer{s}.{b}.conv{k}.weight")
                names += [f"layer{s}.{b}.bn{k}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
    return names + ["fc.weight", "fc.bias"]


def test_matching_is_fast_on_resnet50_names_and_adversarial_ones(tmp_path):
    from archspec.weights.maps import load_map

    p = tmp_path / "m.yaml"
    p.write_text('archmap: 1\nrules:\n'
                 '  - {from: "{a:path}.{b}.{c}.{d}.{e}.zz", to: "x.{a}", optional: true}\n'
                 '  - {from: "{a}.{b}.{c}.{d}.{e}.{f}.{g}.zz", to: "y.{a}", optional: true}\n'
                 '  - {from: "layer{s:int}.{b:int}.conv{k:int}.weight", to: "l{s}.{b}.c{k}"}\n'
                 '  - {from: "{rest:path}", to: null}\n')
    wmap = load_map(p)
    names = resnet50_names() + ["a." * 450 + "a", "1" * 999, "a.b" * 300]
    t0 = time.perf_counter()
    with time_limit(10):
        result = wmap.apply(names)
    assert time.perf_counter() - t0 < 10
    assert len(result.pairs) == 48 and len(result.dropped) == len(names) - 48


def test_tensor_names_are_bounded(tmp_path):
    from archspec.weights.maps import load_map

    wmap = load_map(_map(tmp_path, "{a:path}"))
    with pytest.raises(limits.LimitError, match="characters"):
        wmap.apply(["a" * (limits.NAME_CHARS + 1)])


# -- item 11: checkpoints whose dimensions overflow -----------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_a_checkpoint_whose_dimensions_overflow_is_a_clean_error(tmp_path):
    pytest.importorskip("mindspore")
    dims = b"".join(_varint(1 << 3 | 0) + _varint(d) for d in (2**40, 2**40, 2**40))
    tensor = dims + _field(2, b"Float32") + _field(3, b"\0" * 16)
    p = tmp_path / "overflow.ckpt"
    p.write_bytes(_field(1, _field(1, b"w") + _field(2, tensor)))
    for fn in (read_source, list_source):
        with pytest.raises(SpecError) as info:
            fn(p)
        assert "has 16 bytes of data, expected" in info.value.message and "truncated or corrupted" in info.value.message


# -- item 12: misleading messages, non-finite weights ------------------------------------------------------

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    spec = folder / "tiny.yaml"
    spec.write_text(TINY)
    graph = archspec.resolve(archspec.load(spec))
    return spec, graph


def _arrays(graph, seed=0):
    rng = np.random.default_rng(seed)
    return {n: (rng.uniform(0.5, 1.5, s) if "variance" in n else rng.standard_normal(s)).astype(np.float32)
            for n, s in graph.parameter_shapes().items()}


def test_nan_weights_are_refused_at_load_naming_the_tensors(ms, tiny, tmp_path):
    from archspec.weights.checkpoint import load_weights, write_checkpoint

    spec, graph = tiny
    arrays = _arrays(graph)
    arrays["stem.conv.weight"][0, 0, 0, 0] = np.nan
    arrays["fc.bias"][1] = np.inf
    ckpt = write_checkpoint(arrays, tmp_path / "nan.ckpt")
    net = archspec.build(graph).net
    with pytest.raises(SpecError) as info:
        load_weights(net, ckpt)
    e = info.value
    assert e.loc.file == str(ckpt) and "NaN or infinite" in e.message and "--allow-nonfinite" in e.hint
    assert "stem.conv.weight (1 NaN)" in e.message and "fc.bias (1 inf)" in e.message
    assert "fold" not in e.render().lower()
    report = load_weights(net, ckpt, allow_nonfinite=True)
    assert report.loaded == report.total


def test_a_dtype_mismatch_is_not_called_another_shape(ms, tiny, tmp_path):
    from archspec.weights.checkpoint import load_weights, write_checkpoint

    spec, graph = tiny
    arrays = _arrays(graph)
    arrays["fc.bias"] = arrays["fc.bias"].astype(np.int32)
    ckpt = write_checkpoint(arrays, tmp_path / "int.ckpt")
    with pytest.raises(SpecError) as info:
        load_weights(archspec.build(graph).net, ckpt)
    text = info.value.render()
    assert "data type differs (1): fc.bias: checkpoint int32, network float32" in text
    assert "1 of another data type" in text and "shape" not in text.split("\n")[0]


def test_nan_weights_are_refused_at_import_by_their_source_names(tiny, tmp_path):
    spec, graph = tiny
    arrays = {f"src.{n}": a for n, a in _arrays(graph).items()}
    arrays["src.fc.weight"][0, 0] = np.nan
    src = tmp_path / "w.npz"
    np.savez(src, **arrays)
    mp = tmp_path / "m.yaml"
    mp.write_text('archmap: 1\nrules:\n  - {from: "src.{n:path}", to: "{n}"}\n')
    with pytest.raises(SpecError) as info:
        archspec.import_weights(spec, src, None, map_path=mp)
    assert "src.fc.weight (1 NaN)" in info.value.message and info.value.loc.file == str(src)
    report = archspec.import_weights(spec, src, None, map_path=mp, allow_nonfinite=True)
    assert report.written == report.total


@pytest.mark.parametrize("command", [["build"], ["export"], ["predict"], ["profile"], ["weights", "import"], ["train"],
                                     ["eval"]])
def test_every_command_that_loads_weights_has_allow_nonfinite(command):
    from archspec.cli import app

    r = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--allow-nonfinite" in r.output
