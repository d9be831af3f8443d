#version 450
// Matrix × vector for decode: dst[t][dst_col + o] (+)= Σ_i x[x_row + t][i] · W[o][i], for the
// output rows o of one weight chunk and a few token rows t (one per workgroup row of the grid).
//
// Decode is bound by weight bandwidth, so every weight byte is read exactly once. Two layouts:
// - reduction variants (_sg, _sh), for GPUs: each workgroup computes ROWS consecutive output
//   rows at a time; its WG invocations stride over the K inputs (reading 4 or 8 weights per
//   uvec4 load when K allows), keep one partial sum per row, and reduce them across the
//   workgroup with subgroup arithmetic (_sg) or a shared-memory tree (_sh).
// - one row per invocation (_row), for CPU devices such as lavapipe: each invocation computes a
//   whole row, so there is no reduction and no barrier. lavapipe runs a workgroup's
//   invocations 8 at a time on one thread and switches between them at every barrier; on the
//   bundled model's 151936 × 64 output head this variant took about 30 ms against 50 ms or
//   more for the reduction variants (measured on 2 loaded cores).
//
// Bindings:      0 x (float32 rows of K), 1 weight chunk (M rows of K, 32-bit words),
//                2 dst (float32 rows of dst_stride)
// Push constants: K, M, x_row, dst_row, dst_stride, dst_col, n_rows (unused here), accumulate
//                 (non-zero: add to dst, which fuses the residual add)
// Specialization: 0 workgroup size WG (a power of two), 1 ROWS (≤ WG; reduction variants)
// Dispatch:       reduction variants: (ceil(M / ROWS) or fewer, token rows, 1);
//                 _row: (ceil(M / WG) or fewer, token rows, 1). Workgroups stride over the
//                 rows, so a grid capped at maxComputeWorkGroupCount still covers M.
// variant: f32_sg -DWEIGHT_F32 -DUSE_SUBGROUPS
// variant: f32_sh -DWEIGHT_F32
// variant: f32_row -DWEIGHT_F32 -DROW_PER_INVOCATION
// variant: f16_sg -DWEIGHT_F16 -DUSE_SUBGROUPS
// variant: f16_sh -DWEIGHT_F16
// variant: f16_row -DWEIGHT_F16 -DROW_PER_INVOCATION
// variant: bf16_sg -DWEIGHT_BF16 -DUSE_SUBGROUPS
// variant: bf16_sh -DWEIGHT_BF16
// variant: bf16_row -DWEIGHT_BF16 -DROW_PER_INVOCATION
#extension GL_GOOGLE_include_directive : require
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#include "weights.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint ROWS = 2;

// Two views of the same bindings: scalars for any K, vectors when K is a multiple of
// VEC_ELEMENTS (then every row starts on a 16-byte boundary).
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer W { uint w[]; };
layout(std430, binding = 1) readonly buffer W4 { uvec4 w4[]; };
layout(std430, binding = 2) buffer Dst { float dst[]; };

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

void write_output(uint token, uint row, float value)
{
    uint index = (p.dst_row + token) * p.dst_stride + p.dst_col + row;
    dst[index] = p.accumulate != 0u ? dst[index] + value : value;
}

#ifdef ROW_PER_INVOCATION

float row_dot(uint row, uint x_base)
{
    float sum = 0.0;
    if (p.K % VEC_ELEMENTS == 0u) {
        uint n_vec = p.K / VEC_ELEMENTS;
        for (uint v = 0u; v < n_vec; v++) {
            uvec4 packed = w4[row * n_vec + v];
#ifdef WEIGHT_F32
            sum += dot(uintBitsToFloat(packed), x4[x_base / 4u + v]);
#else
            sum += dot(decode_low(packed), x4[x_base / 4u + 2u * v]) +
                   dot(decode_high(packed), x4[x_base / 4u + 2u * v + 1u]);
#endif
        }
    } else {
        for (uint i = 0u; i < p.K; i++)
            sum += x[x_base + i] * WEIGHT_AT(w, row * p.K + i);
    }
    return sum;
}

void main()
{
    uint token = gl_WorkGroupID.y;
    uint x_base = (p.x_row + token) * p.K;
    uint stride = gl_NumWorkGroups.x * WG;
    for (uint row = gl_GlobalInvocationID.x; row < p.M; row += stride)
        write_output(token, row, row_dot(row, x_base));
}

#else // the reduction variants

shared float partial[ROWS * WG];

void accumulate_vectors(uint row0, uint x_base, uint tid, inout float sums[ROWS])
{
    uint n_vec = p.K / VEC_ELEMENTS;
    for (uint v = tid; v < n_vec; v += WG) {
#ifdef WEIGHT_F32
        vec4 xa = x4[x_base / 4u + v];
        for (uint r = 0u; r < ROWS; r++) {
            uint row = min(row0 + r, p.M - 1u); // rows past M are computed and dropped
            sums[r] += dot(uintBitsToFloat(w4[row * n_vec + v]), xa);
        }
#else
        vec4 xa = x4[x_base / 4u + 2u * v];
        vec4 xb = x4[x_base / 4u + 2u * v + 1u];
        for (uint r = 0u; r < ROWS; r++) {
            uint row = min(row0 + r, p.M - 1u);
            uvec4 packed = w4[row * n_vec + v];
            sums[r] += dot(decode_low(packed), xa) + dot(decode_high(packed), xb);
        }
#endif
    }
}

void accumulate_scalars(uint row0, uint x_base, uint tid, inout float sums[ROWS])
{
    for (uint i = tid; i < p.K; i += WG) {
        float xv = x[x_base + i];
        for (uint r = 0u; r < ROWS; r++) {
            uint row = min(row0 + r, p.M - 1u);
            sums[r] += xv * WEIGHT_AT(w, row * p.K + i);
        }
    }
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint token = gl_WorkGroupID.y;
    uint x_base = (p.x_row + token) * p.K;
    uint n_groups = (p.M + ROWS - 1u) / ROWS;

    for (uint group = gl_WorkGroupID.x; group < n_groups; group += gl_NumWorkGroups.x) {
        uint row0 = group * ROWS;
        float sums[ROWS];
        for (uint r = 0u; r < ROWS; r++)
            sums[r] = 0.0;
        if (p.K % VEC_ELEMENTS == 0u)
            accumulate_vectors(row0, x_base, tid, sums);
        else
            accumulate_scalars(row0, x_base, tid, sums);

#ifdef USE_SUBGROUPS
        for (uint r = 0u; r < ROWS; r++) {
            float s = subgroupAdd(sums[r]);
            if (subgroupElect())
                partial[r * WG + gl_SubgroupID] = s;
        }
        barrier();
        if (tid < ROWS && row0 + tid < p.M) {
            float total = 0.0;
            for (uint i = 0u; i < gl_NumSubgroups; i++)
                total += partial[tid * WG + i];
            write_output(token, row0 + tid, total);
        }
#else
        for (uint r = 0u; r < ROWS; r++)
            partial[r * WG + tid] = sums[r];
        barrier();
        for (uint half_size = WG / 2u; half_size > 0u; half_size >>= 1) {
            if (tid < half_size)
                for (uint r = 0u; r < ROWS; r++)
                    partial[r * WG + tid] += partial[r * WG + tid + half_size];
            barrier();
        }
        if (tid < ROWS && row0 + tid < p.M)
            write_output(token, row0 + tid, partial[tid * WG]);
#endif
        barrier(); // partial is reused by the next group
    }
}

#endif
