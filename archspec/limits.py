"""Every bound archspec puts on untrusted input (specs, weight maps, weight files, images), in one
place. The README's Safety section lists them; code reads them from here at call time
(`limits.X`, not `from archspec.limits import X`), so a test can lower one with monkeypatch.

A bound that is reached is a `LimitError`: a positioned SpecError that names the limit and stops
the run (what would follow from it is noise).
"""
from __future__ import annotations

from archspec.errors import SpecError

KiB, MiB, GiB = 2**10, 2**20, 2**30

# -- files (every reader: regular files only, opened without blocking, size checked on the open file)
SPEC_FILE_BYTES = 2 * MiB  # one spec, library or weight-map file
SPEC_FILES = 100  # files one load reads: the spec, its imports and the specs it extends
SPEC_CHAIN = 32  # `extends:` / `imports:` nested this deep
YAML_DEPTH = 64  # nesting of mappings and lists in one file
YAML_VALUES = 200_000  # values in one file, YAML aliases expanded

# -- expressions and expansion (per load, and per resolve)
EXPR_EVALUATIONS = 100_000  # `${...}` evaluations
EXPANDED_CHARS = 1_000_000  # characters of text that `${...}` produce, all values together
TEXT_CHARS = 10_000  # one text value made by `${...}`
EXPANSIONS = 100_000  # graph entries expanded: repetitions and block instances, skipped ones included
GRAPH_NODES = 20_000  # nodes of the resolved graph
BLOCK_DEPTH = 32  # blocks inside blocks
ID_CHARS = 100  # one `id:` (MindSpore parameter names are built from ids)
NAME_CHARS = 1_000  # a node's full name: its block instances' names and its id, dotted

# -- declared sizes (resolve)
TENSOR_ELEMENTS = 2**31  # elements of any one tensor: an input, a node's output, a parameter
GRAPH_PARAMS = 2**31  # parameters of the whole graph (8 GiB as float32; a .ckpt holds at most 2 GiB)

# -- weights
WEIGHT_BYTES = 4 * GiB  # the tensor bytes of one weight file, after decompression
WEIGHT_TENSORS = 100_000  # tensors in one weight file
MAP_RULES = 10_000  # rules of a weight map, its includes counted
MAP_INCLUDES = 8  # map `include:` nested this deep

# -- images
IMAGE_PIXELS = 50_000_000  # width x height of one image, checked from its header before decoding
IMAGE_FILE_BYTES = 256 * MiB  # one image file


class LimitError(SpecError):
    """A bound above was reached; positioned where the input asks for more."""
