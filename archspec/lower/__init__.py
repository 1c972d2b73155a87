"""Graph -> mindspore.nn.Cell. See `cell.py` for how the Cell is built and named."""
from archspec.lower.cell import SpecNet, build_cell, compile_cell, count_fused, find_unfused_conv_bn, run

__all__ = ["SpecNet", "build_cell", "compile_cell", "count_fused", "find_unfused_conv_bn", "run"]
