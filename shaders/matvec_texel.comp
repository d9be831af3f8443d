#version 450
// Matrix × vector (decode) and matrix × matrix (prompts) for CPU-type devices such as lavapipe:
// dst[t][dst_col + o] (+)= Σ_i x[x_row + t][i] · W[o][i], with the weights read through a
// uniform texel buffer of 16-byte R32G32B32A32_UINT texels (4 f32 or 8 f16/bf16 weights each)
// and the inputs through one of R32G32B32A32_SFLOAT texels (4 floats each).
//
// Why texels: lavapipe (Mesa 22.3) compiles each storage-buffer load into a loop over the 8
// SIMD lanes with a scalar load and a bounds check per lane and component, even when the lanes
// read neighbouring or equal addresses. A texel fetch is 8 vector loads and a transpose. On a
// 9728 × 2560 bf16 matrix this shader's decode layout takes about 3 times less CPU time per
// weight byte than matvec.comp's row layout (measured on 2 cores, see docs/benchmarks.md).
//
// Two layouts, by variant:
// - decode (f32, f16, bf16): each subgroup computes ROWS consecutive output rows of one token
//   row. Its lanes read consecutive texels of those rows, keep one partial sum per row, and
//   reduce them with subgroupAdd. There is no barrier, which matters because lavapipe switches
//   between a workgroup's SIMD groups at every barrier.
// - token lanes (*_tokens): each invocation computes ROWS output rows for TOKENS token rows
//   (tokens lane, lane + WG, ...). All lanes fetch the same texel and multiply it with their own
//   x rows, so a workgroup reads each weight once for WG × TOKENS tokens. No subgroup operations.
// When K is not a multiple of the texel's elements, rows do not start on a texel, and both
// layouts read the weights as 32-bit words from binding 1 instead (slow; no Qwen3 size does).
//
// Bindings:       0 x (float32 rows of K), 1 weight chunk (M rows of K, 32-bit words),
//                 2 dst (float32 rows of dst_stride); uniform texel buffers: 8 the weight chunk
//                 as R32G32B32A32_UINT, 9 x as R32G32B32A32_SFLOAT
// Push constants: K, M, x_row, dst_row, dst_stride, dst_col, n_rows (token rows of the step),
//                 accumulate (non-zero: add to dst, which fuses the residual add)
// Specialization: 0 workgroup size WG (decode: a multiple of the subgroup size), 1 ROWS,
//                 2 TOKENS (token-lane variants)
// Dispatch:       decode: (ceil(M / ROWS) / (WG / subgroup size) or fewer, token rows, 1);
//                 token lanes: (ceil(M / ROWS) or fewer, ceil(n_rows / (WG × TOKENS)), 1).
//                 Subgroups (decode) and workgroups (token lanes) stride over the row groups,
//                 so a grid capped at maxComputeWorkGroupCount still covers M.
// variant: f32 -DWEIGHT_F32
// variant: f16 -DWEIGHT_F16
// variant: bf16 -DWEIGHT_BF16
// variant: f32_tokens -DWEIGHT_F32 -DTOKEN_LANES
// variant: f16_tokens -DWEIGHT_F16 -DTOKEN_LANES
// variant: bf16_tokens -DWEIGHT_BF16 -DTOKEN_LANES
#extension GL_GOOGLE_include_directive : require
#ifndef TOKEN_LANES
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint ROWS = 8;
layout(constant_id = 2) const uint TOKENS = 2;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { uint w[]; };
layout(std430, binding = 2) buffer Dst { float dst[]; };
layout(binding = 8) uniform usamplerBuffer texels;
layout(binding = 9) uniform samplerBuffer x_texels;

layout(push_constant) uniform Push {
    uint K;
    uint M;
    uint x_row;
    uint dst_row;
    uint dst_stride;
    uint dst_col;
    uint n_rows;
    uint accumulate;
} p;

// Texels of x per weight texel.
#ifdef WEIGHT_F32
const uint X_VECS = 1u;
#else
const uint X_VECS = 2u;
#endif

void write_output(uint token, uint row, float value)
{
    uint index = (p.dst_row + token) * p.dst_stride + p.dst_col + row;
    dst[index] = p.accumulate != 0u ? dst[index] + value : value;
}

// Σ over one weight texel: its 4 or 8 weights times the floats of xa (and xb).
float texel_dot(uvec4 packed, vec4 xa, vec4 xb)
{
#ifdef WEIGHT_F32
    return dot(uintBitsToFloat(packed), xa);
#else
    return dot(decode_low(packed), xa) + dot(decode_high(packed), xb);
#endif
}

#ifndef TOKEN_LANES

// Lane l adds texels l, l + subgroup size, ... of each row (or elements, when K is not a
// multiple of VEC_ELEMENTS); the subgroup then sums the lanes.
void main()
{
    uint lane = gl_SubgroupInvocationID;
    uint token = gl_WorkGroupID.y;
    uint x_base = (p.x_row + token) * p.K;
    uint n_groups = (p.M + ROWS - 1u) / ROWS;
    uint stride = gl_NumWorkGroups.x * gl_NumSubgroups;
    bool whole_texels = p.K % VEC_ELEMENTS == 0u;
    uint n_texels = p.K / VEC_ELEMENTS;

    for (uint group = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; group < n_groups;
         group += stride) {
        uint row0 = group * ROWS;
        float sums[ROWS];
        uint rows[ROWS];
        uint first_texels[ROWS];
        for (uint r = 0u; r < ROWS; r++) {
            sums[r] = 0.0;
            rows[r] = min(row0 + r, p.M - 1u); // rows past M are computed and dropped
            first_texels[r] = rows[r] * n_texels;
        }
        if (whole_texels) {
            for (uint v = lane; v < n_texels; v += gl_SubgroupSize) {
                int xv = int(x_base / 4u + v * X_VECS);
                vec4 xa = texelFetch(x_texels, xv);
                vec4 xb = X_VECS > 1u ? texelFetch(x_texels, xv + int(X_VECS) - 1) : xa;
                for (uint r = 0u; r < ROWS; r++)
                    sums[r] += texel_dot(texelFetch(texels, int(first_texels[r] + v)), xa, xb);
            }
        } else {
            for (uint i = lane; i < p.K; i += gl_SubgroupSize) {
                float xi = x[x_base + i];
                for (uint r = 0u; r < ROWS; r++)
                    sums[r] += xi * WEIGHT_AT(w, rows[r] * p.K + i);
            }
        }
        for (uint r = 0u; r < ROWS; r++) {
            float total = subgroupAdd(sums[r]);
            if (subgroupElect() && row0 + r < p.M)
                write_output(token, row0 + r, total);
        }
    }
}

#else // TOKEN_LANES

// Invocation l of workgroup (g, b) computes the rows of row group g for tokens
// b × WG × TOKENS + j × WG + l, j < TOKENS.
void main()
{
    uint first_token = gl_WorkGroupID.y * WG * TOKENS + gl_LocalInvocationID.x;
    uint n_groups = (p.M + ROWS - 1u) / ROWS;
    bool whole_texels = p.K % VEC_ELEMENTS == 0u;
    uint n_texels = p.K / VEC_ELEMENTS;
    uint x_bases[TOKENS];

    // Token slots past n_rows compute on the last row and are dropped.
    for (uint j = 0u; j < TOKENS; j++)
        x_bases[j] = (p.x_row + min(first_token + j * WG, p.n_rows - 1u)) * p.K;

    for (uint group = gl_WorkGroupID.x; group < n_groups; group += gl_NumWorkGroups.x) {
        uint row0 = group * ROWS;
        float sums[ROWS * TOKENS];
        uint rows[ROWS];
        for (uint s = 0u; s < ROWS * TOKENS; s++)
            sums[s] = 0.0;
        for (uint r = 0u; r < ROWS; r++)
            rows[r] = min(row0 + r, p.M - 1u);
        if (whole_texels) {
            for (uint v = 0u; v < n_texels; v++) {
                vec4 xa[TOKENS], xb[TOKENS];
                for (uint j = 0u; j < TOKENS; j++) {
                    int xv = int(x_bases[j] / 4u + v * X_VECS);
                    xa[j] = texelFetch(x_texels, xv);
                    xb[j] = X_VECS > 1u ? texelFetch(x_texels, xv + int(X_VECS) - 1) : xa[j];
                }
                for (uint r = 0u; r < ROWS; r++) {
                    uvec4 packed = texelFetch(texels, int(rows[r] * n_texels + v));
                    for (uint j = 0u; j < TOKENS; j++)
                        sums[r * TOKENS + j] += texel_dot(packed, xa[j], xb[j]);
                }
            }
        } else {
            for (uint i = 0u; i < p.K; i++)
                for (uint r = 0u; r < ROWS; r++) {
                    float weight = WEIGHT_AT(w, rows[r] * p.K + i);
                    for (uint j = 0u; j < TOKENS; j++)
                        sums[r * TOKENS + j] += weight * x[x_bases[j] + i];
                }
        }
        for (uint j = 0u; j < TOKENS; j++) {
            uint token = first_token + j * WG;
            for (uint r = 0u; r < ROWS; r++)
                if (token < p.n_rows && row0 + r < p.M)
                    write_output(token, row0 + r, sums[r * TOKENS + j]);
        }
    }
}

#endif
