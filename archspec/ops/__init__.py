"""Op registry and the built-in ops. See `registry.py`."""
from archspec.ops.registry import OpArgs, OpDef, Param, ShapeError, all_ops, get, names, register

__all__ = ["OpArgs", "OpDef", "Param", "ShapeError", "all_ops", "get", "names", "register"]
