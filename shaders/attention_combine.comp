#version 450
// Merge the per-chunk results of attention.comp: with M = max_c m_c,
//   out = Σ_c e^(m_c - M) o_c / Σ_c e^(m_c - M) l_c.
// Chunks past a row's last key hold m = -3e38, l = 0, o = 0 and so weigh nothing.
//
// Bindings:      3 output (float32 rows of n_heads × head_dim), 4 partials (see attention.comp)
// Push constants: as attention.comp (n_heads, n_kv_heads, head_dim, pos, chunk_len, n_chunks,
//                 scale); reads n_heads, head_dim and n_chunks
// Specialization: 0 workgroup size
// Dispatch:       (n_heads, token rows, 1)
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 3) writeonly buffer Out { float result[]; };
layout(std430, binding = 4) readonly buffer Partials { float partials[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint pos;
    uint chunk_len;
    uint n_chunks;
    float scale;
} p;

void main()
{
    uint head = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    uint stride = p.head_dim + 2u;
    uint base = (t * p.n_heads + head) * p.n_chunks * stride;

    float m_max = partials[base + p.head_dim];
    for (uint c = 1u; c < p.n_chunks; c++)
        m_max = max(m_max, partials[base + c * stride + p.head_dim]);
    float l_total = 0.0;
    for (uint c = 0u; c < p.n_chunks; c++)
        l_total += exp(partials[base + c * stride + p.head_dim] - m_max) *
                   partials[base + c * stride + p.head_dim + 1u];

    for (uint d = gl_LocalInvocationID.x; d < p.head_dim; d += gl_WorkGroupSize.x) {
        float acc = 0.0;
        for (uint c = 0u; c < p.n_chunks; c++)
            acc += exp(partials[base + c * stride + p.head_dim] - m_max) *
                   partials[base + c * stride + d];
        result[(t * p.n_heads + head) * p.head_dim + d] = acc / l_total;
    }
}
