"""`archspec predict`, the spec's `preprocess:` and `labels:`, and the image pipeline behind them.

End-to-end runs use DeepLabV3+ MobileNetV2 at 65x65 with a checkpoint whose classifier makes class
3 (VOC "bird") win everywhere, and a one-conv spec whose class scores are the pixel's colour
channels, so the letterbox and its undoing can be checked pixel by pixel.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import archspec
from archspec.errors import SpecError, SpecErrors
from archspec.spec.inference import check_spec, image_task
from archspec.spec.labels import CITYSCAPES, VOC_NAMES, label_set, voc_color

ROOT = Path(__file__).resolve().parents[2]
DEEPLAB = ROOT / "specs" / "deeplabv3p_mobilenetv2.yaml"
BIRD = (128, 128, 0)  # VOC class 3


def archspec_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "archspec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def clean_failure(r, needle: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("predict")


@pytest.fixture(scope="module")
def images(work) -> dict[str, Path]:
    """Images that are not the input size (so resizing and letterboxing are exercised)."""
    rng = np.random.default_rng(0)
    wide = np.zeros((61, 97, 3), np.uint8)
    wide[:, :] = (200, 60, 30)
    wide[40:, 60:] = (20, 90, 220)
    wide += rng.integers(0, 20, wide.shape, dtype=np.uint8)
    paths = {"wide": work / "wide.png", "tall": work / "tall.jpg", "grey": work / "grey.png"}
    Image.fromarray(wide).save(paths["wide"])
    Image.fromarray(rng.integers(0, 255, (80, 50, 3), dtype=np.uint8)).save(paths["tall"], quality=95)
    Image.fromarray(rng.integers(0, 255, (40, 70), dtype=np.uint8)).save(paths["grey"])  # mode L: read as RGB
    return paths


@pytest.fixture(scope="module")
def bird_ckpt(work) -> Path:
    """DeepLabV3+ MobileNetV2 weights whose classifier outputs class 3 everywhere: its 1x1 conv has
    zero weights and a bias that is largest for class 3."""
    import mindspore

    graph = archspec.resolve(archspec.load(DEEPLAB, {"size": 65}))
    net = archspec.build(graph).net
    params = {p.name: p for p in net.get_parameters()}
    weight = params["decoder.classifier.conv.weight"]
    bias = np.full(21, -1.0, np.float32)
    bias[3] = 5.0
    weight.set_data(mindspore.Tensor(np.zeros(weight.shape, np.float32)))
    params["decoder.classifier.conv.bias"].set_data(mindspore.Tensor(bias))
    path = work / "bird.ckpt"
    mindspore.save_checkpoint(net, str(path))
    return path


@pytest.fixture(scope="module")
def deeplab_run(work, images, bird_ckpt):
    out = work / "out_deeplab"
    r = archspec_cli("predict", DEEPLAB, "--weights", bird_ckpt, "--set", "size=65", "--out", out,
                     images["wide"], images["tall"], images["grey"])
    return r, out


# The spec for geometry checks: the class scores are the input's channels (pixel / 255), plus a
# fourth class "pad" with the constant score 0.25, which wins only where the image is black (the
# letterbox padding): in the image the three colour scores add up to about 1, so one is >= 1/3.
RGB_SPEC = """\
archspec: 1
name: rgb
input: {image: [BATCH, 3, 33, 33]}
graph:
  - {id: head, op: conv, out: 4, k: 1}
preprocess: {resize: RESIZE, mean: [0, 0, 0], std: [1, 1, 1], pad_value: 0}
labels: [red, green, blue, {name: pad, color: [255, 255, 255]}]
"""


def rgb_spec(work: Path, resize: str = "letterbox", batch: int = 1) -> Path:
    path = work / f"rgb_{resize}_{batch}.yaml"
    path.write_text(RGB_SPEC.replace("RESIZE", resize).replace("BATCH", str(batch)))
    return path


@pytest.fixture(scope="module")
def rgb_ckpt(work) -> Path:
    import mindspore

    net = archspec.build(archspec.resolve(archspec.load(rgb_spec(work)))).net
    params = {p.name: p for p in net.get_parameters()}
    w = np.zeros((4, 3, 1, 1), np.float32)
    w[0, 0] = w[1, 1] = w[2, 2] = 1.0
    params["head.conv.weight"].set_data(mindspore.Tensor(w))
    params["head.conv.bias"].set_data(mindspore.Tensor(np.array([0, 0, 0, 0.25], np.float32)))
    path = work / "rgb.ckpt"
    mindspore.save_checkpoint(net, str(path))
    return path


def halves(w: int, h: int) -> np.ndarray:
    """Top half red, bottom half blue, the right 20 columns green."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2] = (255, 0, 0)
    a[h // 2:] = (0, 0, 255)
    a[:, w - 20:] = (0, 255, 0)
    return a


def expected_halves(mask: np.ndarray, margin: int = 6) -> None:
    h, w = mask.shape
    assert (mask[: h // 2 - margin, : w - 20 - margin] == 0).all()
    assert (mask[h // 2 + margin:, : w - 20 - margin] == 2).all()
    assert (mask[:, w - 20 + margin:] == 1).all()
    assert not (mask == 3).any(), "letterbox padding leaked into the mask"


# --------------------------------------------------------------------------- end to end


def test_predict_writes_masks_and_overlays(deeplab_run, images):
    r, out = deeplab_run
    assert r.returncode == 0, r.stderr
    assert "loaded" in r.stdout and "RANDOM" not in r.stdout + r.stderr
    assert "GRAPH mode, BatchNorm folded" in r.stdout  # the deployed form of the model
    assert r.stdout.count(": bird 100%") == 3, r.stdout
    assert files_in(out) == sorted(f"{s}{suffix}" for s in ("wide", "tall", "grey")
                                   for suffix in ("_mask.png", "_overlay.png")), "no temporary file left behind"
    for name, path in images.items():
        src = Image.open(path)
        mask = Image.open(out / f"{path.stem}_mask.png")
        assert mask.mode == "P" and mask.size == src.size
        assert (np.asarray(mask) == 3).all()
        assert tuple(mask.getpalette()[9:12]) == BIRD
        overlay = Image.open(out / f"{path.stem}_overlay.png")
        assert overlay.mode == "RGB" and overlay.size == src.size


def test_overlay_blends_class_colour_and_has_a_legend(deeplab_run, images):
    _, out = deeplab_run
    src = np.asarray(Image.open(images["wide"]).convert("RGB"), np.float32)
    overlay = np.asarray(Image.open(out / "wide_overlay.png"), np.float32)
    blend = np.rint(0.5 * src + 0.5 * np.asarray(BIRD, np.float32))
    h, w, _ = src.shape
    # Away from the legend (top-left), every pixel is the image blended half and half with bird's colour.
    assert np.abs(overlay[h // 2:, w // 2:] - blend[h // 2:, w // 2:]).max() <= 1
    # The legend: a darkened box holding an exact swatch of the class colour.
    corner = overlay[:16, :40]
    assert (corner == np.asarray(BIRD, np.float32)).all(axis=-1).sum() >= 16, "no colour swatch in the legend"
    edge = overlay[:12, :2]  # the legend's left margin: the image darkened
    assert (edge < 0.6 * blend[:12, :2]).all(), "no legend background"


def test_letterbox_is_undone_exactly(work, rgb_ckpt):
    img = work / "halves.png"
    Image.fromarray(halves(97, 61)).save(img)
    tall = work / "halves_tall.png"
    Image.fromarray(halves(45, 90)).save(tall)
    out = work / "out_rgb"
    r = archspec_cli("predict", rgb_spec(work), "--weights", rgb_ckpt, "--out", out, img, tall)
    assert r.returncode == 0, r.stderr
    for path, size in ((img, (97, 61)), (tall, (45, 90))):
        mask = Image.open(out / f"{path.stem}_mask.png")
        assert mask.size == size
        expected_halves(np.asarray(mask))
    palette = Image.open(out / "halves_mask.png").getpalette()
    assert tuple(palette[:12]) == (*voc_color(0), *voc_color(1), *voc_color(2), 255, 255, 255)


def test_stretch_and_batches_of_two(work, rgb_ckpt):
    """Batch size 2 from the spec's input, three images (the last batch is padded), resize: stretch."""
    paths = []
    for i, (w, h) in enumerate([(97, 61), (40, 70), (33, 33)]):
        paths.append(work / f"s{i}.png")
        Image.fromarray(halves(w, h)).save(paths[-1])
    out = work / "out_stretch"
    r = archspec_cli("predict", rgb_spec(work, "stretch", batch=2), "--weights", rgb_ckpt, "--out", out, *paths)
    assert r.returncode == 0, r.stderr
    for path in paths:
        mask = np.asarray(Image.open(out / f"{path.stem}_mask.png"))
        assert mask.shape == np.asarray(Image.open(path)).shape[:2]
        expected_halves(mask, margin=4)


def test_random_weights_say_so(work, images):
    out = work / "out_random"
    r = archspec_cli("predict", rgb_spec(work), "--random-weights", "--out", out, images["wide"])
    assert r.returncode == 0, r.stderr
    assert "RANDOM weights" in r.stderr
    assert files_in(out) == ["wide_mask.png", "wide_overlay.png"]


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def bad_files(work, images) -> dict[str, Path]:
    text = work / "notes.png"
    text.write_text("this is not an image\n")
    data = images["wide"].read_bytes()
    truncated = work / "truncated.png"
    truncated.write_bytes(data[: len(data) // 2])
    return {"text": text, "truncated": truncated}


@pytest.mark.parametrize("case, needle", [
    ("missing", "image not found"),
    ("text", "not an image Pillow can read"),
    ("truncated", "truncated or corrupt"),
])
def test_bad_image_is_a_clean_error_and_writes_nothing(work, images, bad_files, bird_ckpt, case, needle):
    bad = work / "missing.png" if case == "missing" else bad_files[case]
    out = work / f"out_bad_{case}"
    r = archspec_cli("predict", DEEPLAB, "--weights", bird_ckpt, "--set", "size=65", "--out", out,
                     images["wide"], bad)
    clean_failure(r, needle)
    assert f"{bad}:" in r.stderr or f"{bad.name}:" in r.stderr  # the message names the file
    assert not out.exists(), "nothing written when one image is bad"


def test_all_bad_images_reported_together(work, bad_files):
    r = archspec_cli("predict", DEEPLAB, "--random-weights", "--set", "size=65", "--out", work / "out_bad_all",
                     work / "missing.png", bad_files["text"], bad_files["truncated"])
    clean_failure(r, "image not found")
    assert "not an image" in r.stderr and "truncated" in r.stderr


def test_unwritable_output_folder(work, images, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        try:
            probe.write_text("x")  # root ignores permissions: use a folder nobody can write to
            probe.unlink()
            target = Path("/sys/kernel/archspec_predict")
            if not Path("/sys/kernel").is_dir():
                pytest.skip("running as root without /sys/kernel: no unwritable folder to try")
        except PermissionError:
            target = folder / "out"
        r = archspec_cli("predict", DEEPLAB, "--random-weights", "--set", "size=65", "--out", target, images["wide"])
        clean_failure(r, "--out: ")
        assert "not writable" in r.stderr or "cannot create folder" in r.stderr
        assert not target.exists()
    finally:
        folder.chmod(0o755)


def test_output_folder_that_is_a_file(work, images, bad_files):
    r = archspec_cli("predict", DEEPLAB, "--random-weights", "--out", bad_files["text"], images["wide"])
    clean_failure(r, "is a file, not a folder")


def test_existing_outputs_need_force(deeplab_run, images, bird_ckpt):
    _, out = deeplab_run
    before = (out / "wide_mask.png").read_bytes()
    r = archspec_cli("predict", DEEPLAB, "--weights", bird_ckpt, "--set", "size=65", "--out", out, images["wide"])
    clean_failure(r, "already exists")
    assert "--force" in r.stderr
    assert (out / "wide_mask.png").read_bytes() == before


def test_same_stem_twice_is_refused(work, images):
    other = work / "sub" / "wide.png"
    other.parent.mkdir(exist_ok=True)
    other.write_bytes(images["wide"].read_bytes())
    r = archspec_cli("predict", DEEPLAB, "--random-weights", "--out", work / "out_clash", images["wide"], other)
    clean_failure(r, "would both write wide_mask.png")


def test_weights_are_required_and_checked(work, images):
    r = archspec_cli("predict", DEEPLAB, "--out", work / "out_w", images["wide"])
    clean_failure(r, "--weights CKPT")
    assert "--random-weights" in r.stderr
    r = archspec_cli("predict", DEEPLAB, "--weights", work / "nope.ckpt", "--out", work / "out_w", images["wide"])
    clean_failure(r, "checkpoint file not found")
    assert not (work / "out_w").exists()


def test_checkpoint_of_another_model_is_a_clean_error(work, images, bird_ckpt):
    r = archspec_cli("predict", rgb_spec(work), "--weights", bird_ckpt, "--out", work / "out_wrong", images["wide"])
    clean_failure(r, "fits")
    assert files_in(work / "out_wrong") == []


def test_labels_count_must_match_classes(work, images, bird_ckpt):
    r = archspec_cli("predict", DEEPLAB, "--weights", bird_ckpt, "--set", "size=65", "--set", "num_classes=19",
                     "--out", work / "out_labels", images["wide"])
    clean_failure(r, "label set 'voc' has 21 classes but output 'out' has 19 channels")
    line = next(i for i, t in enumerate(DEEPLAB.read_text().splitlines(), 1) if t.startswith("labels:"))
    assert f"deeplabv3p_mobilenetv2.yaml:{line}:9: labels:" in r.stderr
    assert "labels: cityscapes" in r.stderr  # the hint
    assert not (work / "out_labels").exists()
    # one rule: validate gives the same answer as predict (also when --set is given)
    v = archspec_cli("validate", DEEPLAB, "--set", "num_classes=19")
    clean_failure(v, "label set 'voc' has 21 classes but output 'out' has 19 channels")
    assert "labels: cityscapes" in v.stderr
    assert archspec_cli("validate", DEEPLAB, "--set", "size=129").returncode == 0


# --------------------------------------------------------------------------- spec language


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def task_of(path: Path, overrides=None):
    spec = archspec.load(path, overrides)
    return image_task(spec, archspec.resolve(spec))


def test_deeplab_specs_carry_preprocess_and_voc_labels():
    for name in ("deeplabv3p.yaml", "deeplabv3p_mobilenetv2.yaml", "deeplabv3p_resnet101.yaml"):
        task = task_of(ROOT / "specs" / name, {"size": 65})
        assert task.labels.source == "voc" and task.labels.names == list(VOC_NAMES)
        pre = task.preprocess
        assert pre.resize == "letterbox" and pre.mean == (0.485, 0.456, 0.406) and pre.std == (0.229, 0.224, 0.225)
        assert pre.pad_value == (124, 116, 104)  # the mean colour: padding is 0 after normalization
        assert (pre.batch, pre.channels, pre.height, pre.width) == (1, 3, 65, 65)


def test_child_spec_for_cityscapes(tmp_path):
    (tmp_path / "lib").mkdir()
    for f in (ROOT / "specs" / "lib").iterdir():
        (tmp_path / "lib" / f.name).write_text(f.read_text())
    (tmp_path / "deeplabv3p_mobilenetv2.yaml").write_text(DEEPLAB.read_text())
    child = write(tmp_path, "city.yaml", """\
        archspec: 1
        name: deeplabv3p_mobilenetv2_cityscapes
        extends: deeplabv3p_mobilenetv2.yaml
        params: {num_classes: 19, size: 65}
        preprocess: {resize: stretch}
        labels: cityscapes
        """)
    task = task_of(child)
    assert task.labels.source == "cityscapes" and len(task.labels) == 19
    assert task.preprocess.resize == "stretch"
    assert task.preprocess.mean == (0.485, 0.456, 0.406), "the parent's other preprocess keys are inherited"
    r = archspec_cli("validate", child)
    assert r.returncode == 0, r.stderr


def test_defaults_without_preprocess_or_labels(tmp_path):
    path = write(tmp_path, "plain.yaml", """\
        archspec: 1
        name: plain
        input: {image: [1, 3, 33, 33]}
        graph:
          - {id: head, op: conv, out: 5, k: 1}
        """)
    spec = archspec.load(path)
    check_spec(spec, archspec.resolve(spec))  # nothing to check
    task = task_of(path)
    assert task.preprocess.resize == "letterbox" and task.preprocess.mean == (0.485, 0.456, 0.406)
    assert task.labels.names == [f"class {i}" for i in range(5)] and task.labels.colors[3] == BIRD


def test_label_list_with_colours(tmp_path):
    path = write(tmp_path, "lab.yaml", """\
        archspec: 1
        name: lab
        input: {image: [1, 3, 33, 33]}
        graph:
          - {id: head, op: conv, out: 3, k: 1}
        labels: [sky, {name: road, color: [128, 64, 128]}, car]
        """)
    labels = task_of(path).labels
    assert labels.names == ["sky", "road", "car"]
    assert labels.colors == [voc_color(0), (128, 64, 128), voc_color(2)]


@pytest.mark.parametrize("text, at, needle", [
    ("labels: vocc", "vocc", "did you mean 'voc'?"),
    ("labels: [road, 5]", "5", "expected a class name or a mapping"),
    ("labels: [road, road]", "[", "class names must be unique"),
    ("labels: [{name: road, colour: [1, 2, 3]}]", "colour", "unknown key 'colour'"),
    ("labels: [{name: road, color: [1, 2, 300]}]", "300", "less than or equal to 255"),
    ("preprocess: {resize: pad}", "pad", "'letterbox', 'stretch' or 'none'"),
    ("preprocess: {mean: [123.675, 0.5, 0.5]}", "123", "less than or equal to 1"),
    ("preprocess: {std: [0, 1, 1]}", "0", "greater than 0"),
    ("preprocess: {pad_value: 1.5}", "1.5", "one 0..255 value or one per channel"),
    ("preprocess: {means: [0.5]}", "means", "unknown key 'means'"),
    ("preprocess: {mean: [0.5, 0.5]}", "[", "preprocess mean has 2 values but input 'image' has 3 channel(s)"),
    ("labels: [a, b]", "[", "2 class names for output 'head', which has 3 channels"),
    ("labels: cityscapes", "cityscapes", "label set 'cityscapes' has 19 classes but output 'head' has 3 channels"),
])
def test_positioned_errors(tmp_path, text, at, needle):
    path = write(tmp_path, "bad.yaml", "archspec: 1\nname: t\ninput: {image: [1, 3, 33, 33]}\ngraph:\n"
                                       "  - {id: head, op: conv, out: 3, k: 1}\n" + text + "\n")
    with pytest.raises((SpecError, SpecErrors)) as info:
        spec = archspec.load(path)
        check_spec(spec, archspec.resolve(spec))
    errs = info.value.errors if isinstance(info.value, SpecErrors) else [info.value]
    assert len(errs) == 1, [e.render() for e in errs]
    e = errs[0]
    assert needle in e.render(), e.render()
    col = text.index(at, text.index(":") + 1) + 1
    assert (e.loc.file, e.loc.line, e.loc.col) == (str(path), 6, col), e.render()
    if "123.675" in text:
        assert "0..1 pixel scale" in e.hint


def test_validate_imports_neither_mindspore_nor_pillow():
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "from archspec.cli.app import app\n"
            "r = CliRunner().invoke(app, ['validate', 'specs/deeplabv3p_mobilenetv2.yaml'])\n"
            "assert r.exit_code == 0, r.output\n"
            "assert 'mindspore' not in sys.modules and 'PIL' not in sys.modules, "
            "[m for m in sys.modules if m.startswith(('mindspore', 'PIL'))][:5]\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------- pipeline pieces


def test_palettes():
    assert voc_color(0) == (0, 0, 0) and voc_color(1) == (128, 0, 0) and voc_color(3) == BIRD
    assert voc_color(15) == (192, 128, 128) and voc_color(255) == (224, 224, 192)  # person, VOC's "void"
    voc = label_set("voc")
    assert len(voc) == 21 and voc.names[3] == "bird" and voc.colors[3] == BIRD
    assert voc.palette()[3 * 255: 3 * 256] == [224, 224, 192]
    city = label_set("cityscapes")
    assert len(city) == 19 and len(CITYSCAPES) == 19
    assert city.colors[0] == (128, 64, 128) and city.names[0] == "road"
    assert city.names[13] == "car" and city.colors[13] == (0, 0, 142)
    assert city.colors[18] == (119, 11, 32) and city.names[18] == "bicycle"


def _pre(**changes):
    from archspec.spec.inference import Preprocess

    base = dict(resize="letterbox", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                pad_value=(124, 116, 104), channel_order="RGB", interpolation="bilinear", input_name="image",
                batch=1, channels=3, height=65, width=65)
    base.update(changes)
    return Preprocess(**base)


def test_to_input_letterbox_normalization_and_channel_order():
    from archspec.prediction.images import to_input

    img = Image.new("RGB", (97, 61), (255, 128, 0))
    x, place = to_input(img, _pre())
    assert x.shape == (3, 65, 65) and x.dtype == np.float32
    assert place.size == (97, 61) and place.box == (0, 12, 65, 53)  # 61 * 65 / 97 = 40.9 -> 41 rows, centred
    assert np.allclose(x[:, 32, 32], [(1 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, -0.406 / 0.225], atol=1e-5)
    assert np.abs(x[:, :12]).max() < 0.01 and np.abs(x[:, 53:]).max() < 0.01  # mean-colour padding -> ~0
    bgr, _ = to_input(img, _pre(channel_order="BGR", mean=(0.0,) * 3, std=(1.0,) * 3, pad_value=(9, 9, 9)))
    assert np.allclose(bgr[:, 32, 32], [0.0, 128 / 255, 1.0]) and np.allclose(bgr[:, 0, 0], 9 / 255)
    stretched, place = to_input(img, _pre(resize="stretch"))
    assert place.box == (0, 0, 65, 65) and np.allclose(stretched[0], stretched[0, 32, 32])


def test_class_map_ignores_padding_and_scales_output():
    from archspec.prediction.images import class_map, placement

    place = placement((97, 61), _pre())
    scores = np.zeros((4, 65, 65), np.float32)
    scores[3] = 1.0  # the padding rows favour class 3 ...
    scores[3, 12:53] = 0.0
    scores[1, 12:53, :32] = 1.0  # ... the image's left half class 1, right half class 2
    scores[2, 12:53, 32:] = 1.0
    mask = class_map(scores, place, (65, 65))
    assert mask.shape == (61, 97) and mask.dtype == np.uint8
    assert not (mask == 3).any() and (mask[:, :45] == 1).all() and (mask[:, 52:] == 2).all()
    # An output at a quarter of the input resolution maps back the same way.
    small = scores[:, ::4, ::4][:, :17, :17].copy()
    small_mask = class_map(small, place, (65, 65))
    assert small_mask.shape == (61, 97) and (small_mask[:, :40] == 1).all() and (small_mask[:, 57:] == 2).all()


def test_resize_none_requires_the_input_size(tmp_path):
    from archspec.prediction.images import check_images

    ok, wrong = tmp_path / "ok.png", tmp_path / "wrong.png"
    Image.new("RGB", (65, 65)).save(ok)
    Image.new("RGB", (64, 65)).save(wrong)
    assert check_images([ok], _pre(resize="none")) == [(65, 65)]
    with pytest.raises(SpecError, match="resize: none needs the input size 65x65"):
        check_images([ok, wrong], _pre(resize="none"))
