#version 450
// Embedding gather: X[t] = table[tokens[t]] widened to float32.
//
// A table larger than one binding is split by rows; the op is dispatched once per chunk and each
// dispatch copies only the tokens whose id falls inside its chunk.
//
// Bindings:      0 tokens (int32 ids, one per row of the step)
//                1 table chunk: rows first_row .. first_row + n_rows - 1, as 32-bit words
//                2 X (float32, rows × dim)
// Push constants: dim (floats per row), first_row, n_rows (of the chunk)
// Specialization: 0 workgroup size
// Dispatch:       (ceil(dim / WG) or fewer, tokens in the step, 1); invocations stride by the
//                 grid width, so any grid width covers the row.
// variant: f32 -DWEIGHT_F32
// variant: f16 -DWEIGHT_F16
// variant: bf16 -DWEIGHT_BF16
#extension GL_GOOGLE_include_directive : require

#include "weights.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Tokens { int tokens[]; };
layout(std430, binding = 1) readonly buffer Table { uint table[]; };
layout(std430, binding = 2) writeonly buffer Out { float x[]; };

layout(push_constant) uniform Push {
    uint dim;
    uint first_row;
    uint n_rows;
} p;

void main()
{
    uint t = gl_WorkGroupID.y;
    int id = tokens[t];
    if (id < int(p.first_row) || id >= int(p.first_row + p.n_rows))
        return;

    uint base = (uint(id) - p.first_row) * p.dim;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.dim; i += stride)
        x[t * p.dim + i] = WEIGHT_AT(table, base + i);
}
