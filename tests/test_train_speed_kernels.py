"""benchmarks/train_speed.py --kernels: oneDNN's verbose lines become time per step by primitive and
convolution kind (the table docs/BENCHMARKS.md explains the training-speed gap with)."""
from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from train_speed import kernel_times  # noqa: E402

HEAD = "onednn_verbose,v1,primitive,exec,cpu,"
LINES = "\n".join([
    "onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation,prop_kind",
    HEAD + "convolution,x64:gemm:jit,forward_training,src:f32::blocked:abcd::f0,,alg:convolution_direct,"
           "mb4_ic256oc256_ih33oh33kh3sh1dh0ph1_iw33ow33kw3sw1dw0pw1,30",
    HEAD + "convolution,jit:avx2,forward_training,src:f32::blocked:aBcd8b::f0,,alg:convolution_direct,"
           "mb4_ic256oc256_ih33oh33kh3sh1dh0ph1_iw33ow33kw3sw1dw0pw1,10",
    HEAD + "convolution,x64:gemm:jit,backward_data,src:f32::blocked:abcd::f0,,alg:convolution_direct,"
           "g144mb4_ic144oc144_ih65oh65kh3sh1dh0ph1_iw65ow65kw3sw1dw0pw1,8",
    HEAD + "convolution,x64:gemm:jit,backward_weights,src:f32::blocked:abcd::f0,,alg:convolution_direct,"
           "mb4_ic32oc16_ih129oh129kh1sh1dh0ph0_iw129ow129kw1sw1dw0pw0,4",
    HEAD + "batch_normalization,ncsp_bnorm:any,backward,data:f32::blocked:abcd::f0,,flags:CH,mb4ic32ih129iw129,6",
    HEAD + "reorder,jit:blk,undef,src:f32::blocked:abcd::f0,,,4x256x33x33,2",
    "[WARNING] a line MindSpore printed in between",
])


def test_kernel_times_groups_by_primitive_and_conv_kind_per_step():
    t = kernel_times(LINES, steps=2)
    assert t[("convolution forward_training", "3x3 dense")] == (20.0, {"x64:gemm:jit", "jit:avx2"})
    assert t[("convolution backward_data", "3x3 depthwise")] == (4.0, {"x64:gemm:jit"})
    assert t[("convolution backward_weights", "1x1 dense")] == (2.0, {"x64:gemm:jit"})
    assert t[("batch_normalization backward", "")] == (3.0, {"ncsp_bnorm:any"})
    assert t[("reorder", "")] == (1.0, {"jit:blk"})
    assert len(t) == 5  # the info header and the foreign line are not counted
