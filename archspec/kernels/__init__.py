"""CPU kernels that MindSpore 2.10's CPU backend lacks, written in NumPy (no MindSpore import).

`archspec.lower` runs them inside a MindSpore graph through `ops.Custom(func_type="pyfunc")`.
"""
