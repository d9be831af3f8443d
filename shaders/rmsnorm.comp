#version 450
// RMSNorm: dst[r] = src[src_row + r] / sqrt(mean(src[src_row + r]²) + eps) × weight, in float32.
//
// Bindings:      0 src (float32 rows of dim), 1 weight (float32, dim), 2 dst (float32 rows)
// Push constants: dim, src_row (first source row: the last rows when only some logits are
//                 wanted), eps
// Specialization: 0 workgroup size WG (a power of two)
// Dispatch:       (rows, 1, 1): one workgroup per row
// variant: sg -DUSE_SUBGROUPS
// variant: sh
#extension GL_GOOGLE_include_directive : require
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

layout(std430, binding = 0) readonly buffer Src { float src[]; };
layout(std430, binding = 1) readonly buffer Weight { float weight[]; };
layout(std430, binding = 2) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
    uint dim;
    uint src_row;
    float eps;
} p;

shared float reduce_scratch[WG];

#include "reduce.glsl"

void main()
{
    uint row = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint src_base = (p.src_row + row) * p.dim;
    uint dst_base = row * p.dim;

    float sum = 0.0;
    for (uint i = tid; i < p.dim; i += WG) {
        float v = src[src_base + i];
        sum += v * v;
    }
    sum = workgroup_sum(sum);

    float scale = 1.0 / sqrt(sum / float(p.dim) + p.eps);
    for (uint i = tid; i < p.dim; i += WG)
        dst[dst_base + i] = src[src_base + i] * scale * weight[i];
}
