// Workgroup-wide sum and max. Every invocation of the workgroup must call them (they contain
// barriers) and every one receives the result.
//
// The including shader declares the specialization constant WG (the workgroup size, a power of
// two) and `shared float reduce_scratch[WG];`, and defines USE_SUBGROUPS when the device
// supports subgroup arithmetic in compute shaders (then the GL_KHR_shader_subgroup_arithmetic
// extension must be enabled before this file is included).

#ifdef USE_SUBGROUPS

// Reduce within each subgroup, then combine the gl_NumSubgroups partial results. Works for any
// subgroup size the driver picks.
float workgroup_sum(float value)
{
    value = subgroupAdd(value);
    if (subgroupElect())
        reduce_scratch[gl_SubgroupID] = value;
    barrier();
    float total = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++)
        total += reduce_scratch[i];
    barrier();
    return total;
}

float workgroup_max(float value)
{
    value = subgroupMax(value);
    if (subgroupElect())
        reduce_scratch[gl_SubgroupID] = value;
    barrier();
    float result = reduce_scratch[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++)
        result = max(result, reduce_scratch[i]);
    barrier();
    return result;
}

#else

// A tree over shared memory: log2(WG) halving steps.
float workgroup_sum(float value)
{
    uint i = gl_LocalInvocationIndex;
    reduce_scratch[i] = value;
    barrier();
    for (uint half_size = WG / 2u; half_size > 0u; half_size >>= 1) {
        if (i < half_size)
            reduce_scratch[i] += reduce_scratch[i + half_size];
        barrier();
    }
    float total = reduce_scratch[0];
    barrier();
    return total;
}

float workgroup_max(float value)
{
    uint i = gl_LocalInvocationIndex;
    reduce_scratch[i] = value;
    barrier();
    for (uint half_size = WG / 2u; half_size > 0u; half_size >>= 1) {
        if (i < half_size)
            reduce_scratch[i] = max(reduce_scratch[i], reduce_scratch[i + half_size]);
        barrier();
    }
    float result = reduce_scratch[0];
    barrier();
    return result;
}

#endif
