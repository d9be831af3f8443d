// Weight decoding. Weights are bound as 32-bit words in the file's little-endian layout: one
// float32, or two bf16 / f16 values with the lower-indexed element in the low half.
//
// The including shader defines one of WEIGHT_F32, WEIGHT_F16, WEIGHT_BF16. Then:
//   WEIGHT_AT(words, e)  element e of the weight array `words` (uint[]) as float
//   VEC_ELEMENTS         elements in one uvec4 (4 for f32, 8 for 16-bit types)
//   decode_low(w), decode_high(w)  elements 0..3 and 4..7 of a uvec4 of 16-bit values

// bf16 is the upper half of a float32, so widening is a shift.
vec2 unpack_bf16x2(uint w)
{
    return vec2(uintBitsToFloat(w << 16), uintBitsToFloat(w & 0xffff0000u));
}

#if defined(WEIGHT_F32)
#define VEC_ELEMENTS 4u
#define WEIGHT_AT(words, e) uintBitsToFloat(words[e])
#elif defined(WEIGHT_F16)
#define VEC_ELEMENTS 8u
#define WEIGHT_AT(words, e) unpackHalf2x16(words[(e) >> 1] >> (((e) & 1u) * 16u)).x
vec4 decode_low(uvec4 w) { return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)); }
vec4 decode_high(uvec4 w) { return vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)); }
#elif defined(WEIGHT_BF16)
#define VEC_ELEMENTS 8u
#define WEIGHT_AT(words, e) uintBitsToFloat(((e) & 1u) != 0u ? (words[(e) >> 1] & 0xffff0000u) \
                                                             : (words[(e) >> 1] << 16))
vec4 decode_low(uvec4 w) { return vec4(unpack_bf16x2(w.x), unpack_bf16x2(w.y)); }
vec4 decode_high(uvec4 w) { return vec4(unpack_bf16x2(w.z), unpack_bf16x2(w.w)); }
#endif
