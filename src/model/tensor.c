#include "model/tensor.h"

#include <math.h>
#include <string.h>

size_t qvk_dtype_size(qvk_dtype dtype)
{
    return dtype == QVK_DTYPE_F32 ? 4 : 2;
}

const char *qvk_dtype_name(qvk_dtype dtype)
{
    switch (dtype) {
    case QVK_DTYPE_F32: return "F32";
    case QVK_DTYPE_F16: return "F16";
    case QVK_DTYPE_BF16: return "BF16";
    }
    return "unknown";
}

int64_t qvk_tensor_n_elements(const qvk_tensor *tensor)
{
    int64_t n = 1;
    for (int32_t i = 0; i < tensor->n_dims; i++)
        n *= tensor->shape[i];
    return n;
}

int64_t qvk_tensor_rows(const qvk_tensor *tensor)
{
    return tensor->n_dims > 0 ? tensor->shape[0] : 1;
}

int64_t qvk_tensor_cols(const qvk_tensor *tensor)
{
    int64_t n = 1;
    for (int32_t i = 1; i < tensor->n_dims; i++)
        n *= tensor->shape[i];
    return n;
}

uint16_t qvk_f32_to_bf16(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof(bits));
    if (isnan(value))
        return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7fff + ((bits >> 16) & 1);
    return (uint16_t)(bits >> 16);
}

float qvk_f16_to_f32(uint16_t value)
{
    uint32_t sign = (uint32_t)(value & 0x8000) << 16;
    uint32_t exponent = (value >> 10) & 0x1f;
    uint32_t mantissa = value & 0x3ff;
    uint32_t bits;
    float result;

    if (exponent == 0) {
        /* zero or subnormal: mantissa × 2^-24 */
        result = ldexpf((float)mantissa, -24);
        return sign ? -result : result;
    }
    if (exponent == 31)
        bits = sign | 0x7f800000 | (mantissa << 13);
    else
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    memcpy(&result, &bits, sizeof(result));
    return result;
}

uint16_t qvk_f32_to_f16(float value)
{
    uint32_t bits;
    uint32_t sign;
    int32_t exponent;
    uint32_t mantissa;

    memcpy(&bits, &value, sizeof(bits));
    sign = (bits >> 16) & 0x8000;
    exponent = (int32_t)((bits >> 23) & 0xff) - 127 + 15;
    mantissa = bits & 0x7fffff;
    if (((bits >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00 | (mantissa ? 0x200 : 0));
    if (exponent >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (exponent <= 0) {
        if (exponent < -10)
            return (uint16_t)sign;
        mantissa |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exponent);
        uint32_t half = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t midpoint = 1u << (shift - 1);
        if (rest > midpoint || (rest == midpoint && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exponent << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
        half++;
    return (uint16_t)half;
}

void qvk_tensor_read_f32(const qvk_tensor *tensor, int64_t first, int64_t count, float *out)
{
    switch (tensor->dtype) {
    case QVK_DTYPE_F32:
        memcpy(out, (const float *)tensor->data + first, (size_t)count * sizeof(float));
        break;
    case QVK_DTYPE_BF16: {
        const uint16_t *in = (const uint16_t *)tensor->data + first;
        for (int64_t i = 0; i < count; i++)
            out[i] = qvk_bf16_to_f32(in[i]);
        break;
    }
    case QVK_DTYPE_F16: {
        const uint16_t *in = (const uint16_t *)tensor->data + first;
        for (int64_t i = 0; i < count; i++)
            out[i] = qvk_f16_to_f32(in[i]);
        break;
    }
    }
}
