"""The dataset layouts users already have, read in place (no conversion step):

* ``voc``: Pascal VOC (``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png`` palette masks,
  ``ImageSets/Segmentation/<split>.txt`` listing the ids). The folder may be ``VOC2012`` itself or
  a folder holding ``VOC2012/`` or ``VOCdevkit/VOC2012/``. The split ``train_aug`` (VOC + SBD,
  as VainF and mmsegmentation lay it out) reads its masks from ``SegmentationClassAug/``.
* ``cityscapes``: ``leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` with
  ``gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png`` (cityscapesScripts' train ids).
* ``list``: ``<split>.txt`` files of ``image mask`` lines, paths relative to the list's folder
  (``#`` comments and blank lines allowed); ``--data`` may also name one list file.
* ``folders``: ImageNet-style class folders ``<split>/<class>/*.jpg`` for classifiers; the class
  index is the position of the folder name in the sorted names of the ``train`` split.

Listing only: nothing here decodes an image (see ``scan.py``). No MindSpore, NumPy or Pillow.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from archspec.errors import Location, SpecError, did_you_mean

LAYOUTS = ("voc", "cityscapes", "list", "folders")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm")
MAX_LIST_BYTES = 64 * 1024 * 1024  # a list file of ~1M lines
MAX_SAMPLES = 5_000_000  # per split (ImageNet's train split is 1.28M)


@dataclass(frozen=True)
class Sample:
    """One training example: an image and its target (a mask file, or a class index), with the
    place it was listed (a list file's line, or the image itself) for error messages."""

    image: Path
    target: Path | int
    origin: Location


@dataclass
class Split:
    layout: str
    root: Path
    name: str
    task: str  # "segmentation" or "classification"
    samples: list[Sample]
    classes: list[str] = field(default_factory=list)  # class folder names (layout folders)

    def __len__(self) -> int:
        return len(self.samples)


def is_regular_file(p: Path) -> bool:
    """A regular file (through symlinks): not a folder, FIFO, device or socket."""
    try:
        return stat.S_ISREG(os.stat(p).st_mode)
    except OSError:
        return False


def detect_layout(root: Path, option: str = "--data") -> str:
    """Which layout a `--data` path has, from the folders and files in it."""
    if root.is_file():
        return "list"
    if not root.is_dir():
        raise SpecError(f"{root} does not exist", Location(option), hint="give the dataset's folder")
    if _voc_root(root) is not None:
        return "voc"
    if (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir():
        return "cityscapes"
    if any(is_regular_file(root / f"{s}.txt") for s in ("train", "val", "test")):
        return "list"
    if (root / "train").is_dir() and any(p.is_dir() for p in (root / "train").iterdir()):
        return "folders"
    raise SpecError(f"cannot tell the layout of {root}", Location(option),
                    hint="expected Pascal VOC (JPEGImages/, SegmentationClass/, ImageSets/Segmentation/), "
                         "Cityscapes (leftImg8bit/, gtFine/), list files (train.txt, val.txt of 'image mask' "
                         "lines) or class folders (train/<class>/*.jpg); or pass the layout explicitly")


def open_split(root: str | Path, split: str, layout: str | None = None, option: str = "--data",
               classes: list[str] | None = None) -> Split:
    """List the samples of one split. `classes` (layout folders): the class names to index by
    (default: the sorted folders of the train split, so every split agrees)."""
    root = Path(root)
    if layout is None:
        layout = detect_layout(root, option)
    elif layout not in LAYOUTS:
        raise SpecError(f"unknown dataset layout '{layout}'", Location("--layout"),
                        hint=did_you_mean(layout, LAYOUTS))
    if layout == "folders":
        got = _folders(root, split, option, classes)
    else:
        got = {"voc": _voc, "cityscapes": _cityscapes, "list": _list}[layout](root, split, option)
    if not got.samples:
        raise SpecError(f"the {layout} split '{split}' of {root} has no samples", Location(option),
                        hint="check the split name and that the files are where the layout expects them")
    if len(got.samples) > MAX_SAMPLES:
        raise SpecError(f"the split '{split}' has {len(got.samples)} samples; the limit is {MAX_SAMPLES}",
                        Location(option))
    return got


def available_splits(root: Path, layout: str) -> list[str]:
    """Split names found on disk, for did-you-mean hints."""
    if layout == "voc":
        base = _voc_root(root)
        folder = base / "ImageSets" / "Segmentation" if base else None
        return sorted(p.stem for p in folder.glob("*.txt")) if folder and folder.is_dir() else []
    if layout == "cityscapes":
        folder = root / "leftImg8bit"
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if layout == "list":
        folder = root.parent if root.is_file() else root
        return sorted(p.stem for p in folder.glob("*.txt"))
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _missing_split(root: Path, layout: str, split: str, looked: Path, option: str) -> SpecError:
    names = available_splits(root, layout)
    return SpecError(f"the {layout} dataset at {root} has no split '{split}' (looked for {looked})",
                     Location(option), hint=did_you_mean(split, names) or
                     (f"splits found: {', '.join(names)}" if names else "no splits found"))


# --------------------------------------------------------------------------- Pascal VOC


def _voc_root(root: Path) -> Path | None:
    for cand in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (cand / "JPEGImages").is_dir() and (cand / "ImageSets" / "Segmentation").is_dir() and \
                ((cand / "SegmentationClass").is_dir() or (cand / "SegmentationClassAug").is_dir()):
            return cand
    return None


def _voc(root: Path, split: str, option: str) -> Split:
    base = _voc_root(root)
    if base is None:
        raise SpecError(f"{root} is not a Pascal VOC folder", Location(option),
                        hint="it needs JPEGImages/, SegmentationClass/ and ImageSets/Segmentation/")
    listing = base / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not is_regular_file(listing):
        raise _missing_split(root, "voc", split, listing, option)
    masks = base / ("SegmentationClassAug" if split == "train_aug" and (base / "SegmentationClassAug").is_dir()
                    else "SegmentationClass")
    samples = []
    for line_no, text in _lines(listing):
        name = text.split()[0]
        samples.append(Sample(base / "JPEGImages" / f"{name}.jpg", masks / f"{name}.png",
                              Location(str(listing), line_no, 1)))
    return Split("voc", root, split, "segmentation", samples)


def _lines(path: Path):
    """(line number, stripped text) of a list file's non-empty, non-comment lines; bounded."""
    size = path.stat().st_size
    if size > MAX_LIST_BYTES:
        raise SpecError(f"list file is {size} bytes; the limit is {MAX_LIST_BYTES}", Location(str(path)))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (byte {e.start})", Location(str(path))) from None
    except OSError as e:
        raise SpecError(f"cannot read the list: {e.strerror}", Location(str(path))) from None
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield i, line


# --------------------------------------------------------------------------- Cityscapes

_CS_IMAGE = "_leftImg8bit.png"
_CS_MASK = "_gtFine_labelTrainIds.png"


def _cityscapes(root: Path, split: str, option: str) -> Split:
    images = root / "leftImg8bit" / split
    if not images.is_dir():
        raise _missing_split(root, "cityscapes", split, images, option)
    samples = []
    for city in sorted(p for p in images.iterdir() if p.is_dir()):
        for img in sorted(city.glob(f"*{_CS_IMAGE}")):
            stem = img.name[: -len(_CS_IMAGE)]
            mask = root / "gtFine" / split / city.name / f"{stem}{_CS_MASK}"
            samples.append(Sample(img, mask, Location(str(img))))
    masks = root / "gtFine" / split
    if samples and not any(masks.rglob(f"*{_CS_MASK}")) and any(masks.rglob("*_gtFine_labelIds.png")):
        raise SpecError("the Cityscapes masks have label ids, not train ids", Location(option),
                        hint="make *_gtFine_labelTrainIds.png with cityscapesScripts' createTrainIdLabelImgs.py")
    return Split("cityscapes", root, split, "segmentation", samples)


# --------------------------------------------------------------------------- list files


def _list(root: Path, split: str, option: str) -> Split:
    listing = root if root.is_file() else root / f"{split}.txt"
    if not is_regular_file(listing):
        raise _missing_split(root, "list", split, listing, option)
    folder = listing.parent
    samples = []
    for line_no, text in _lines(listing):
        parts = text.split()
        where = Location(str(listing), line_no, 1)
        if len(parts) != 2:
            raise SpecError(f"expected 'image mask' (two paths), got {len(parts)} field(s)", where,
                            hint="one pair per line, paths relative to the list's folder; no spaces in names")
        samples.append(Sample(folder / parts[0], folder / parts[1], where))
    return Split("list", root, listing.stem if root.is_file() else split, "segmentation", samples)


# --------------------------------------------------------------------------- class folders


def class_names(root: Path, split: str = "train") -> list[str]:
    folder = root / split
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _folders(root: Path, split: str, option: str, classes: list[str] | None) -> Split:
    folder = root / split
    if not folder.is_dir():
        raise _missing_split(root, "folders", split, folder, option)
    here = class_names(root, split)
    classes = list(classes) if classes is not None else (class_names(root, "train") or here)
    index = {name: i for i, name in enumerate(classes)}
    extra = [c for c in here if c not in index]
    if extra:
        raise SpecError(f"split '{split}' has class folders the training classes lack: {', '.join(extra[:8])}",
                        Location(str(folder / extra[0])),
                        hint=f"the classes are the folders of train/ ({len(classes)}); rename or remove these")
    samples = []
    for name in here:
        for img in sorted((folder / name).iterdir()):
            if img.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(Sample(img, index[name], Location(str(img))))
    return Split("folders", root, split, "classification", samples, classes)
