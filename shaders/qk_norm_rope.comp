#version 450
// Per-head RMSNorm of Q (weight q_norm) and K (weight k_norm), NeoX RoPE on both, then the
// KV-cache write of K and V, for the step's rows t at positions pos + t.
//
// RoPE rotates the pairs (i, i + head_dim/2), the "rotate half" layout of Hugging Face Qwen3:
//   out[i]        = x[i] cos(p θ_i) - x[i + half] sin(p θ_i)
//   out[i + half] = x[i + half] cos(p θ_i) + x[i] sin(p θ_i)
// with cos and sin read from a table the host computes in double precision.
//
// Bindings:      0 Q (float32 rows of n_heads × head_dim; normalized and rotated in place)
//                1 K (float32 rows of n_kv_heads × head_dim; likewise)
//                2 V (float32 rows of n_kv_heads × head_dim)
//                3 q_norm (float32, head_dim), 4 k_norm (float32, head_dim)
//                5 RoPE table: [position][head_dim / 2][cos, sin] float32
//                6 K cache, 7 V cache of the layer: [position][n_kv_heads][head_dim] float32
// Push constants: n_heads, n_kv_heads, head_dim (even), pos, eps
// Specialization: 0 workgroup size WG (a power of two)
// Dispatch:       (n_heads + n_kv_heads, rows, 1): workgroup x < n_heads handles query head x,
//                 the others key/value head x - n_heads
// variant: sg -DUSE_SUBGROUPS
// variant: sh
#extension GL_GOOGLE_include_directive : require
#ifdef USE_SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

layout(std430, binding = 0) buffer Q { float q[]; };
layout(std430, binding = 1) buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer QNorm { float q_norm[]; };
layout(std430, binding = 4) readonly buffer KNorm { float k_norm[]; };
layout(std430, binding = 5) readonly buffer Rope { float rope[]; };
layout(std430, binding = 6) writeonly buffer KCache { float k_cache[]; };
layout(std430, binding = 7) writeonly buffer VCache { float v_cache[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint pos;
    float eps;
} p;

shared float reduce_scratch[WG];

#include "reduce.glsl"

// Each invocation owns the pairs (i, i + half) for i = tid, tid + WG, ..., so the in-place
// rotation never reads a value another invocation has written.
void main()
{
    uint head = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    uint tid = gl_LocalInvocationID.x;
    uint half_dim = p.head_dim / 2u;
    bool is_query = head < p.n_heads;
    uint kv_head = is_query ? 0u : head - p.n_heads;
    uint base = is_query ? (t * p.n_heads + head) * p.head_dim
                         : (t * p.n_kv_heads + kv_head) * p.head_dim;

    float sum = 0.0;
    for (uint i = tid; i < half_dim; i += WG) {
        float a = is_query ? q[base + i] : k[base + i];
        float b = is_query ? q[base + i + half_dim] : k[base + i + half_dim];
        sum += a * a + b * b;
    }
    sum = workgroup_sum(sum);
    float scale = 1.0 / sqrt(sum / float(p.head_dim) + p.eps);

    uint position = p.pos + t;
    uint cache_base = (position * p.n_kv_heads + kv_head) * p.head_dim;
    for (uint i = tid; i < half_dim; i += WG) {
        float c = rope[(position * half_dim + i) * 2u];
        float s = rope[(position * half_dim + i) * 2u + 1u];
        if (is_query) {
            float a = q[base + i] * scale * q_norm[i];
            float b = q[base + i + half_dim] * scale * q_norm[i + half_dim];
            q[base + i] = a * c - b * s;
            q[base + i + half_dim] = b * c + a * s;
        } else {
            float a = k[base + i] * scale * k_norm[i];
            float b = k[base + i + half_dim] * scale * k_norm[i + half_dim];
            float ra = a * c - b * s;
            float rb = b * c + a * s;
            k[base + i] = ra;
            k[base + i + half_dim] = rb;
            k_cache[cache_base + i] = ra;
            k_cache[cache_base + i + half_dim] = rb;
        }
    }
    if (!is_query)
        for (uint i = tid; i < p.head_dim; i += WG)
            v_cache[cache_base + i] = v[base + i];
}
