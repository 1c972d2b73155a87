"""Imports every built-in op module so each registers itself."""
from archspec.ops import act, conv, conv_transpose, layout, merge, misc, norm, pad, pool, resize, softmax  # noqa: F401
