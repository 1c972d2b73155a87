"""Class labels for segmentation (and classification) outputs: the built-in label sets with their
standard colour palettes, and the labels a spec names (`labels: voc`, `labels: [road, car]`).

Pure Python: no MindSpore, NumPy or Pillow, so `archspec validate` can check labels instantly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from archspec.errors import Location, SpecError

Color = tuple[int, int, int]

# Pascal VOC 2012: 21 classes, index 0 is background (255 marks "void" in VOC's own masks).
VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

# Cityscapes: the 19 evaluation classes by train id, with the official colours
# (cityscapesScripts, helpers/labels.py).
CITYSCAPES = (
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)), ("fence", (190, 153, 153)), ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)), ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)), ("car", (0, 0, 142)), ("truck", (0, 0, 70)), ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)),
)

LABEL_SETS = {"voc": len(VOC_NAMES), "cityscapes": len(CITYSCAPES)}  # name -> number of classes


def voc_color(index: int) -> Color:
    """Pascal VOC's palette: the bits of the class index spread over R, G and B, high bit first
    (0 black, 1 (128, 0, 0), 2 (0, 128, 0), 3 (128, 128, 0), ..., 255 (224, 224, 192))."""
    r = g = b = 0
    c = index
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return (r, g, b)


@dataclass(frozen=True)
class Label:
    name: str
    color: Color


@dataclass(frozen=True)
class Labels:
    """The classes of a model's output channels, in channel order."""

    labels: tuple[Label, ...]
    source: str  # "voc", "cityscapes", "spec" (a list in the spec) or "default" (no labels: in the spec)
    loc: Location | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]

    @property
    def colors(self) -> list[Color]:
        return [lab.color for lab in self.labels]

    def palette(self) -> list[int]:
        """A 256-entry flat RGB palette for a mode "P" mask PNG: the classes' colours, then
        (for indices past the last class) VOC's palette, so 255 keeps VOC's "void" colour."""
        flat: list[int] = []
        for i in range(256):
            flat.extend(self.labels[i].color if i < len(self.labels) else voc_color(i))
        return flat


def label_set(name: str) -> Labels:
    if name == "voc":
        return Labels(tuple(Label(n, voc_color(i)) for i, n in enumerate(VOC_NAMES)), "voc")
    if name == "cityscapes":
        return Labels(tuple(Label(n, c) for n, c in CITYSCAPES), "cityscapes")
    raise KeyError(name)


def default_labels(n: int) -> Labels:
    """Labels for a spec without `labels:`: "class 0", "class 1", ... in VOC's palette."""
    return Labels(tuple(Label(f"class {i}", voc_color(i)) for i in range(n)), "default")


def from_spec(value: Any, loc: Location | None = None) -> Labels | None:
    """The labels a (structurally valid) `labels:` value names: a set name or a list whose items
    are names or {name, color} mappings. Items without a colour take VOC's colour for their index."""
    if value is None:
        return None
    if isinstance(value, str):
        lab = label_set(value)
        return Labels(lab.labels, lab.source, loc)
    items = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            items.append(Label(item, voc_color(i)))
        else:
            color = item.get("color")
            items.append(Label(item["name"], tuple(color) if color is not None else voc_color(i)))
    return Labels(tuple(items), "spec", loc)


def check_count(labels: Labels, channels: int, output: str, path: str = "labels") -> None:
    """The number of labels must equal the number of output channels (classes)."""
    if len(labels) == channels:
        return
    if labels.source in LABEL_SETS:
        what = f"label set '{labels.source}' has {len(labels)} classes but output '{output}' has {channels} channels"
    else:
        what = f"{len(labels)} class names for output '{output}', which has {channels} channels"
    fits = [name for name, n in LABEL_SETS.items() if n == channels]
    hint = f"for {channels} classes use labels: {fits[0]}" if fits else f"list {channels} class names under labels:"
    hint += " (in a child spec that extends this one if you changed num_classes)"
    raise SpecError(what, labels.loc, path, hint)


def unique_names(names: Sequence[str]) -> list[str]:
    """Names that occur more than once."""
    seen: set[str] = set()
    dups: list[str] = []
    for n in names:
        if n in seen and n not in dups:
            dups.append(n)
        seen.add(n)
    return dups
