"""Imports every built-in op module so each registers itself."""
from archspec.ops import act, conv, merge, misc, norm, pad, pool, resize  # noqa: F401
