#version 450
// Causal grouped-query attention, split over the sequence (flash-decoding).
//
// The workgroup (head h, token row t, chunk c) attends query head h of row t to the cache rows
// [c × chunk_len, min((c + 1) × chunk_len, pos + t + 1)) of key/value head h / (n_heads /
// n_kv_heads). It walks its keys in blocks of WG with an online softmax: per block, each
// invocation scores one key, the block maximum m' rescales the running sum l and output o by
// e^(m - m'), then each invocation adds Σ_j p_j v_j for its output dimensions.
// With one chunk the result o / l goes straight to the output; otherwise (o, m, l) go to the
// partials buffer and attention_combine.comp merges the chunks.
//
// Bindings:      0 Q (float32 rows of n_heads × head_dim), 1 K cache, 2 V cache
//                ([position][n_kv_heads][head_dim] float32), 3 output (like Q),
//                4 partials: [t][h][chunk] × (head_dim + 2) floats: o, then m, then l
// Push constants: n_heads, n_kv_heads, head_dim (≤ 4 × WG), pos, chunk_len, n_chunks, scale
//                 (1 / sqrt(head_dim))
// Specialization: 0 workgroup size WG (a power of two)
// Dispatch:       (n_heads, token rows, n_chunks)
// variant: sg -DUSE_SUBGROUPS
// variant: sh
#extension GL_GOOGLE_include_directive : require
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#define DIMS_PER_INVOCATION 4u
// A finite stand-in for -infinity: e^(NEG_LARGE - m) is 0 without the NaN of inf - inf.
#define NEG_LARGE -3.0e38

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KCache { float k_cache[]; };
layout(std430, binding = 1) readonly buffer KCache4 { vec4 k_cache4[]; };
layout(std430, binding = 2) readonly buffer VCache { float v_cache[]; };
layout(std430, binding = 3) writeonly buffer Out { float result[]; };
layout(std430, binding = 4) writeonly buffer Partials { float partials[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint pos;
    uint chunk_len;
    uint n_chunks;
    float scale;
} p;

shared float q_shared[DIMS_PER_INVOCATION * WG];
shared float scores[WG];
shared float reduce_scratch[WG];

#include "reduce.glsl"

float score(uint key, uint kv_base)
{
    uint base = key * p.n_kv_heads * p.head_dim + kv_base;
    float s = 0.0;
    if (p.head_dim % 4u == 0u) {
        for (uint d = 0u; d < p.head_dim; d += 4u)
            s += dot(k_cache4[(base + d) / 4u],
                     vec4(q_shared[d], q_shared[d + 1u], q_shared[d + 2u], q_shared[d + 3u]));
    } else {
        for (uint d = 0u; d < p.head_dim; d++)
            s += k_cache[base + d] * q_shared[d];
    }
    return s;
}

void main()
{
    uint head = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    uint chunk = gl_WorkGroupID.z;
    uint tid = gl_LocalInvocationID.x;
    uint kv_head = head / (p.n_heads / p.n_kv_heads);
    uint kv_base = kv_head * p.head_dim;
    uint kv_stride = p.n_kv_heads * p.head_dim;
    uint n_keys = p.pos + t + 1u;
    uint begin = chunk * p.chunk_len;
    uint end = min(n_keys, begin + p.chunk_len);
    uint q_base = (t * p.n_heads + head) * p.head_dim;

    for (uint d = tid; d < p.head_dim; d += WG)
        q_shared[d] = q[q_base + d] * p.scale;
    barrier();

    float m = NEG_LARGE;
    float l = 0.0;
    float o[DIMS_PER_INVOCATION] = float[DIMS_PER_INVOCATION](0.0, 0.0, 0.0, 0.0);
    for (uint key0 = begin; key0 < end; key0 += WG) {
        uint key = key0 + tid;
        float s = key < end ? score(key, kv_base) : NEG_LARGE;
        float m_new = max(m, workgroup_max(s));
        float weight = key < end ? exp(s - m_new) : 0.0;
        scores[tid] = weight;
        float block_sum = workgroup_sum(weight); // its barrier also publishes scores[]
        float alpha = exp(m - m_new);
        l = l * alpha + block_sum;
        m = m_new;

        uint n_block = min(WG, end - key0);
        for (uint j = 0u; j < DIMS_PER_INVOCATION; j++) {
            uint d = tid + j * WG;
            if (d >= p.head_dim)
                break;
            float acc = o[j] * alpha;
            for (uint b = 0u; b < n_block; b++)
                acc += scores[b] * v_cache[(key0 + b) * kv_stride + kv_base + d];
            o[j] = acc;
        }
        barrier(); // scores[] is rewritten by the next block
    }

    if (p.n_chunks == 1u) {
        for (uint j = 0u; j < DIMS_PER_INVOCATION; j++) {
            uint d = tid + j * WG;
            if (d < p.head_dim)
                result[q_base + d] = o[j] / l;
        }
        return;
    }
    uint partial_base = ((t * p.n_heads + head) * p.n_chunks + chunk) * (p.head_dim + 2u);
    for (uint j = 0u; j < DIMS_PER_INVOCATION; j++) {
        uint d = tid + j * WG;
        if (d < p.head_dim)
            partials[partial_base + d] = o[j];
    }
    if (tid == 0u) {
        partials[partial_base + p.head_dim] = m;
        partials[partial_base + p.head_dim + 1u] = l;
    }
}
