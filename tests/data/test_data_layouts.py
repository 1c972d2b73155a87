"""Dataset layouts read in place: detection, the samples listed, and one clear error per mistake
(named file, list line, did-you-mean for split names)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archspec.data import synthetic
from archspec.data.layouts import detect_layout, open_split
from archspec.data.scan import read_mask, scan_split
from archspec.errors import SpecError, SpecErrors


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    base = tmp_path_factory.mktemp("layouts")
    return {lay: synthetic.write(lay, base / lay, train=5, val=3, size=(24, 40)) for lay in
            ("voc", "cityscapes", "list", "folders")}


def _errors(fn, *args, **kwargs) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as info:
        fn(*args, **kwargs)
    e = info.value
    return list(e.errors) if isinstance(e, SpecErrors) else [e]


@pytest.mark.parametrize("layout,task", [("voc", "segmentation"), ("cityscapes", "segmentation"),
                                         ("list", "segmentation"), ("folders", "classification")])
def test_each_layout_is_detected_and_listed(datasets, layout, task):
    root = datasets[layout]
    assert detect_layout(root) == layout
    train, val = open_split(root, "train"), open_split(root, "val")
    assert (train.layout, train.task, len(train), len(val)) == (layout, task, 5, 3)
    for s in train.samples:
        assert s.image.is_file()
        if task == "segmentation":
            assert s.target.is_file()
            assert Image.open(s.target).size == Image.open(s.image).size
    report = scan_split(train)
    assert all(w >= 24 and h >= 24 for w, h in report.sizes)


def test_voc_lists_name_the_line_each_sample_comes_from(datasets):
    split = open_split(datasets["voc"], "val")
    listing = datasets["voc"] / "ImageSets" / "Segmentation" / "val.txt"
    assert [(s.origin.file, s.origin.line) for s in split.samples] == [(str(listing), i) for i in (1, 2, 3)]
    assert split.samples[1].image == datasets["voc"] / "JPEGImages" / "val_0001.jpg"


def test_voc_masks_are_palette_class_indices(datasets):
    s = open_split(datasets["voc"], "train").samples[0]
    assert Image.open(s.target).mode == "P"
    mask = read_mask(s.target, s.origin, num_classes=4)
    assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}


def test_voc_folder_may_be_the_devkit_parent(datasets, tmp_path):
    (tmp_path / "VOCdevkit").mkdir()
    os.symlink(datasets["voc"], tmp_path / "VOCdevkit" / "VOC2012")
    assert detect_layout(tmp_path) == "voc"
    assert len(open_split(tmp_path, "train")) == 5


def test_layout_can_be_forced(datasets):
    with pytest.raises(SpecError, match="not a Pascal VOC folder"):
        open_split(datasets["cityscapes"], "train", layout="voc")
    for other in ("cityscapes", "list"):  # a layout forced on the wrong folder is a user mistake, not a crash
        with pytest.raises(SpecError, match=f"the {other} dataset at .* has no split 'train'"):
            open_split(datasets["folders"], "train", layout=other)
    (e,) = _errors(open_split, datasets["voc"], "train", layout="vocc")
    assert "did you mean 'voc'" in e.hint


def test_list_file_can_be_given_directly(datasets):
    split = open_split(datasets["list"] / "val.txt", "ignored")
    assert (split.layout, split.name, len(split)) == ("list", "val", 3)


def test_unknown_split_suggests_the_ones_present(datasets):
    (e,) = _errors(open_split, datasets["voc"], "vall")
    assert "has no split 'vall'" in e.message and "did you mean 'val'" in e.hint
    (e,) = _errors(open_split, datasets["cityscapes"], "tran")
    assert "did you mean 'train'" in e.hint


def test_empty_split_is_an_error(tmp_path, datasets):
    root = tmp_path / "l"
    root.mkdir()
    (root / "train.txt").write_text("# nothing here\n\n")
    (e,) = _errors(open_split, root, "train")
    assert "has no samples" in e.message


def test_list_line_with_three_fields_is_positioned(tmp_path):
    (tmp_path / "train.txt").write_text("a.png a_mask.png\nb.png b_mask.png extra\n")
    (e,) = _errors(open_split, tmp_path, "train")
    assert (e.loc.file, e.loc.line) == (str(tmp_path / "train.txt"), 2)
    assert "got 3 field(s)" in e.message


def test_missing_image_and_mask_are_named_with_their_list_line(datasets, tmp_path):
    root = tmp_path / "broken"
    synthetic.write("list", root, train=4, val=1, size=(24, 32))
    (root / "images" / "train_0001.png").unlink()
    (root / "masks" / "train_0003.png").unlink()
    errs = _errors(scan_split, open_split(root, "train"))
    assert len(errs) == 2
    by_line = {e.loc.line: e for e in errs}
    assert "images/train_0001.png" in by_line[2].message and "not found" in by_line[2].message
    assert "masks/train_0003.png" in by_line[4].message and by_line[4].loc.file == str(root / "train.txt")


def test_image_and_mask_of_different_sizes(tmp_path):
    synthetic.write("list", tmp_path, train=2, val=1, size=(24, 32))
    mask = tmp_path / "masks" / "train_0000.png"
    Image.new("L", (7, 9)).save(mask)
    (e,) = _errors(scan_split, open_split(tmp_path, "train"))
    assert "is 7x9 but its image" in e.message and e.loc.line == 1


def test_rgb_mask_is_refused_with_the_reason(tmp_path):
    synthetic.write("list", tmp_path, train=2, val=1, size=(24, 32))
    img = Image.open(tmp_path / "images" / "train_0001.png")
    Image.new("RGB", img.size, (128, 0, 0)).save(tmp_path / "masks" / "train_0001.png")
    (e,) = _errors(scan_split, open_split(tmp_path, "train"))
    assert "is a RGB image" in e.message and "palette (P) or greyscale (L)" in e.hint


def test_mask_values_beyond_the_classes_name_the_file_and_values(tmp_path):
    synthetic.write("list", tmp_path, train=2, val=1, size=(24, 32))
    m = np.zeros((30, 30), np.uint8)
    m[0, :3] = [7, 9, 255]
    Image.fromarray(m).save(tmp_path / "masks" / "bad.png")
    Image.new("RGB", (30, 30)).save(tmp_path / "images" / "bad.png")
    (tmp_path / "train.txt").write_text("images/bad.png masks/bad.png\n")
    s = open_split(tmp_path, "train").samples[0]
    (e,) = _errors(read_mask, s.target, s.origin, num_classes=4)
    assert "has values 7, 9" in e.message and "ignore label 255" in e.message and e.loc.line == 1


def test_non_image_and_non_regular_files(tmp_path):
    synthetic.write("list", tmp_path, train=2, val=1, size=(24, 32))
    (tmp_path / "images" / "train_0000.png").write_bytes(b"not an image at all")
    fifo = tmp_path / "masks" / "train_0001.png"
    fifo.unlink()
    os.mkfifo(fifo)  # a reader that opened it would block forever
    errs = _errors(scan_split, open_split(tmp_path, "train"))
    messages = " | ".join(e.message for e in errs)
    assert "not an image Pillow can read" in messages and "not a regular file" in messages


def test_pixel_bound_applies(tmp_path, monkeypatch):
    synthetic.write("list", tmp_path, train=2, val=1, size=(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    errs = _errors(scan_split, open_split(tmp_path, "train"))
    assert any("too large to open safely" in e.message for e in errs)


def test_class_folders_of_val_must_be_training_classes(datasets, tmp_path):
    root = tmp_path / "f"
    synthetic.write("folders", root, train=4, val=2, num_classes=2, size=(24, 32))
    (root / "val" / "zebra").mkdir()
    (e,) = _errors(open_split, root, "val")
    assert "zebra" in e.message
    val = open_split(datasets["folders"], "val")
    assert val.classes == ["class_0", "class_1", "class_2", "class_3"]
    assert [s.target for s in val.samples] == [0, 1, 2]


def test_cityscapes_label_ids_get_a_hint(tmp_path):
    city = tmp_path / "leftImg8bit" / "train" / "x"
    city.mkdir(parents=True)
    (tmp_path / "gtFine" / "train" / "x").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(city / "x_000000_000019_leftImg8bit.png")
    Image.new("L", (8, 8)).save(tmp_path / "gtFine" / "train" / "x" / "x_000000_000019_gtFine_labelIds.png")
    (e,) = _errors(open_split, tmp_path, "train")
    assert "label ids, not train ids" in e.message and "createTrainIdLabelImgs" in e.hint


def test_unrecognised_folder(tmp_path):
    (e,) = _errors(detect_layout, tmp_path)
    assert "cannot tell the layout" in e.message and e.loc.file == "--data"
    (e,) = _errors(detect_layout, tmp_path / "nope")
    assert "does not exist" in e.message


def test_no_mindspore_needed_to_list_and_scan(datasets):
    import subprocess
    import sys

    code = ("import sys; from archspec.data.layouts import open_split; from archspec.data.scan import scan_split; "
            f"scan_split(open_split({str(datasets['voc'])!r}, 'train')); "
            "assert not any(m.startswith('mindspore') for m in sys.modules), 'mindspore imported'")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
