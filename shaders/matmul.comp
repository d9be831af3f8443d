#version 450
// Tiled matrix × matrix for prompt processing: dst[t][dst_col + o] (+)= Σ_i x[x_row + t][i] ·
// W[o][i] for the output rows o of one weight chunk and token rows t < n_rows.
//
// A workgroup of 256 invocations computes a tile of BM = 64 output rows × BN = 32 tokens. Per
// step of BK = 16 inputs it stages the weight and input tiles in shared memory (weights widened
// to float32), then each invocation accumulates 4 rows × 2 tokens, so every weight loaded from
// memory serves BN tokens. Edges are zero-padded, so any M, K and n_rows work.
//
// Bindings:      as matvec.comp: 0 x, 1 weight chunk (32-bit words), 2 dst
// Push constants: as matvec.comp (K, M, x_row, dst_row, dst_stride, dst_col, n_rows, accumulate)
// Specialization: none
// Dispatch:       (ceil(M / 64), ceil(n_rows / 32), 1)
// variant: f32 -DWEIGHT_F32
// variant: f16 -DWEIGHT_F16
// variant: bf16 -DWEIGHT_BF16
#extension GL_GOOGLE_include_directive : require

#include "weights.glsl"

#define BM 64u
#define BN 32u
#define BK 16u

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { uint w[]; };
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

// The +1 column keeps the 16 invocations that read one k-row in different shared-memory banks.
shared float w_tile[BK][BM + 1u];
shared float x_tile[BK][BN + 1u];

void load_tiles(uint row0, uint token0, uint k0, uint tid)
{
    // BM × BK = 1024 weights: 4 per invocation, consecutive invocations on consecutive k.
    for (uint i = 0u; i < 4u; i++) {
        uint index = tid + i * 256u;
        uint r = index / BK, kk = index % BK;
        uint row = row0 + r, k = k0 + kk;
        w_tile[kk][r] = (row < p.M && k < p.K) ? WEIGHT_AT(w, row * p.K + k) : 0.0;
    }
    // BN × BK = 512 inputs: 2 per invocation.
    for (uint i = 0u; i < 2u; i++) {
        uint index = tid + i * 256u;
        uint t = index / BK, kk = index % BK;
        uint token = token0 + t, k = k0 + kk;
        x_tile[kk][t] = (token < p.n_rows && k < p.K) ? x[(p.x_row + token) * p.K + k] : 0.0;
    }
}

void main()
{
    uint tid = gl_LocalInvocationIndex;
    uint tm = tid % 16u; // rows tm, tm + 16, tm + 32, tm + 48 of the tile
    uint tn = tid / 16u; // tokens tn, tn + 16
    uint row0 = gl_WorkGroupID.x * BM;
    uint token0 = gl_WorkGroupID.y * BN;
    float acc[4][2] = float[4][2](float[2](0.0, 0.0), float[2](0.0, 0.0),
                                  float[2](0.0, 0.0), float[2](0.0, 0.0));

    for (uint k0 = 0u; k0 < p.K; k0 += BK) {
        load_tiles(row0, token0, k0, tid);
        barrier();
        for (uint kk = 0u; kk < BK; kk++) {
            float a[4], b[2];
            for (uint i = 0u; i < 4u; i++)
                a[i] = w_tile[kk][tm + 16u * i];
            for (uint j = 0u; j < 2u; j++)
                b[j] = x_tile[kk][tn + 16u * j];
            for (uint i = 0u; i < 4u; i++)
                for (uint j = 0u; j < 2u; j++)
                    acc[i][j] += a[i] * b[j];
        }
        barrier();
    }

    for (uint i = 0u; i < 4u; i++) {
        for (uint j = 0u; j < 2u; j++) {
            uint row = row0 + tm + 16u * i;
            uint token = token0 + tn + 16u * j;
            if (row >= p.M || token >= p.n_rows)
                continue;
            uint index = (p.dst_row + token) * p.dst_stride + p.dst_col + row;
            dst[index] = p.accumulate != 0u ? dst[index] + acc[i][j] : acc[i][j];
        }
    }
}
