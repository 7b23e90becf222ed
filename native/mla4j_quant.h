// Quantized cache elements (QuantizedLayout, E4m3 in Java), bit for bit: the decode the attention
// kernels stage tiles with, and the encode of the append kernel. Scalar helpers on float bits;
// only the FP8 encode has a hardware form (sm_89+), the software one is the sm_80 path.
#ifndef MLA4J_QUANT_H
#define MLA4J_QUANT_H
#include "mla4j_params.h"

// ---- decode: value = code · scale, exact in FP32 (code <= 8 significant bits, scale BF16)

__device__ __forceinline__ float bf16_value(unsigned short h) {
  return __uint_as_float(((unsigned int)h) << 16);
}

// The value of an E4M3 code (E4m3.decode): (1 + m/8)·2^(e-7), subnormal m·2^-9, 0x7f/0xff NaN.
__device__ __forceinline__ float e4m3_value(unsigned int b) {
  const unsigned int e = (b >> 3) & 15u;
  const unsigned int m = b & 7u;
  float a;
  if (e == 15u && m == 7u) {
    a = __uint_as_float(0x7fc00000u);
  } else if (e == 0u) {
    a = (float)m * __uint_as_float(0x3b000000u);  // 2^-9
  } else {
    a = __uint_as_float(((e + 120u) << 23) | (m << 20));
  }
  return (b & 0x80u) ? -a : a;
}

// Row geometry of a quantized part (QuantizedLayout): segments of seg elements, groups of group.
struct QuantRow {
  int kind;        // MLA4J_Q_INT8 / INT4 / FP8 (MLA4J_Q_NONE: a plain part, nothing else set)
  int seg;         // elements per segment
  int group;       // elements per scale; the last group of a segment has seg mod group if not 0
  int seg_bytes;   // code bytes per segment
  int seg_groups;  // scales per segment
  int code_row;    // code bytes per token row
  int scale_row;   // scales per token row
};

// The geometry from the PagedAttnParams-style fields of one part (width = elements per row).
__device__ __forceinline__ QuantRow quant_row(int kind, int width, int seg, int group,
                                              int code_row, int scale_row) {
  QuantRow q = {kind, seg, group, 0, 0, code_row, scale_row};
  if (kind != MLA4J_Q_NONE) {
    const int segments = width / seg;
    q.seg_bytes = code_row / segments;
    q.seg_groups = scale_row / segments;
  }
  return q;
}

// Element col of a quantized row: codes = the row's code bytes, scales = its BF16 scales. INT4
// groups of m elements are half-split: byte j holds element j (low nibble) and j + ceil(m/2).
template <int QK>
__device__ __forceinline__ float quant_elem(const unsigned char* codes,
                                            const unsigned short* scales, const QuantRow& q,
                                            int col) {
  const int s = col / q.seg;
  const int i = col - s * q.seg;
  const int g = i / q.group;
  const int j = i - g * q.group;
  const float scale = bf16_value(scales[s * q.seg_groups + g]);
  const unsigned char* gc =
      codes + s * q.seg_bytes + g * (QK == MLA4J_Q_INT4 ? q.group / 2 : q.group);
  float code;
  if (QK == MLA4J_Q_INT8) {
    code = (float)(signed char)gc[j];
  } else if (QK == MLA4J_Q_FP8) {
    code = e4m3_value(gc[j]);
  } else {
    const int half = (min(q.group, q.seg - g * q.group) + 1) >> 1;
    const int b = (signed char)gc[j < half ? j : j - half];
    code = (float)(j < half ? (int)((unsigned int)b << 28) >> 28 : b >> 4);
  }
  return code * scale;
}

// ---- encode (QuantizedLayout.quantize)

// The smallest BF16 at or above v >= 0 (QuantizedLayout.roundUpBf16); v must not be NaN.
__device__ __forceinline__ unsigned short bf16_round_up(float v) {
  return (unsigned short)((__float_as_uint(v) + 0xffffu) >> 16);
}

// The scale bits Java stores for a group whose first NaN (in element order) has bits nan: max|x|
// is that NaN with its sign cleared (Math.abs, Math.max keep it), max|x|/qmax quiets it (x86,
// AArch64), DType.floatToBf16 keeps its top bits and sets the quiet bit: 0x7fc0 for Float.NaN.
__device__ __forceinline__ unsigned short nan_scale_bits(unsigned int nan) {
  return (unsigned short)(((nan >> 16) & 0x7fffu) | 0x40u);
}

// Java's Math.round(float): floor(a + 1/2) computed exactly (no rounding of a + 0.5), NaN 0,
// saturating at the int range.
__device__ __forceinline__ int java_round(float a) {
  const int bits = __float_as_int(a);
  const int shift = 149 - ((bits & 0x7f800000) >> 23);
  if ((shift & -32) == 0) {
    int r = (bits & 0x007fffff) | 0x00800000;
    if (bits < 0) {
      r = -r;
    }
    return ((r >> shift) + 1) >> 1;
  }
  // |a| < 2^-9 (0), or |a| >= 2^23 (integral): Java's (int) cast, saturating, NaN 0
  if (a != a) {
    return 0;
  }
  return a >= 2147483648.f ? 0x7fffffff : a <= -2147483648.f ? (int)0x80000000 : (int)a;
}

// clamp(round(x / scale)) of an int code, 0 when the scale is 0, infinite or NaN (!divide).
__device__ __forceinline__ int int_code(float x, float scale, bool divide, int qmax) {
  const int q = divide ? java_round(__fdiv_rn(x, scale)) : 0;
  return max(-qmax, min(qmax, q));
}

// E4m3.encode in software: round to nearest even, saturate at ±448, NaN 0x7f, sign kept (-0 0x80).
__device__ __forceinline__ unsigned int e4m3_code_sw(float v) {
  const unsigned int bits = __float_as_uint(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return 0x7fu;
  }
  const unsigned int sign = (bits >> 24) & 0x80u;
  const float a = fminf(__uint_as_float(bits & 0x7fffffffu), 448.f);
  unsigned int code;
  if (a < 0.015625f) {  // below 2^-6: m·2^-9, m = 0..8 (8 is 2^-6, code 0x08)
    code = (unsigned int)__float2int_rn(a * 512.f);
  } else {
    const int e = (int)(__float_as_uint(a) >> 23) - 127;
    // a·2^(3-e) and q·2^(e-3) scale by powers of two: exact; rintf ties to even
    const float q = rintf(a * __uint_as_float((unsigned int)(130 - e) << 23))
        * __uint_as_float((unsigned int)(124 + e) << 23);
    const int eq = (int)(__float_as_uint(q) >> 23) - 127;  // e + 1 when rounding carried
    const int mantissa = (int)(q * __uint_as_float((unsigned int)(130 - eq) << 23)) - 8;
    code = ((unsigned int)(eq + 7) << 3) | (unsigned int)mantissa;
  }
  return sign | code;
}

// E4m3.encode: cvt.rn.satfinite on sm_89+ when HW (NaN handled first: the instruction's NaN
// need not be 0x7f for every input), else the software form.
template <bool HW>
__device__ __forceinline__ unsigned int e4m3_code(float v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if (HW) {
    if (v != v) {
      return 0x7fu;
    }
    unsigned short pair;
    asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(pair) : "f"(0.f), "f"(v));
    return pair & 0xffu;
  }
#endif
  return e4m3_code_sw(v);
}
#endif
