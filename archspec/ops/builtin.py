"""Imports every built-in op module so each registers itself."""
from archspec.ops import conv  # noqa: F401
