#version 450
// SwiGLU: gate[i] = silu(gate[i]) × up[i], silu(x) = x / (1 + e^-x), over n floats.
//
// Bindings:      0 gate (float32, read and written), 1 up (float32)
// Push constants: n
// Specialization: 0 workgroup size
// Dispatch:       (ceil(n / WG) or fewer, 1, 1); invocations stride by the grid size
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Gate { float gate[]; };
layout(std430, binding = 1) readonly buffer Up { float up[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        float g = gate[i];
        // For g below about -88, exp(-g) overflows to +inf and the quotient is -0, the limit.
        gate[i] = g / (1.0 + exp(-g)) * up[i];
    }
}
