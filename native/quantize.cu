// Append on the device: F32 rows written into one part of a paged cache at their positions
// (AppendParams, mla4j_params.h), plain or quantized on the fly. The bytes are those the host
// cache stores for the same rows: Tensor.set for plain parts, QuantizedLayout.quantize for
// quantized ones (scale = max|x|/qmax rounded up to BF16, int codes clamp(Math.round(x/scale)),
// FP8 codes E4m3.encode(x/scale), codes 0 where the scale is 0, infinite or NaN).
#include "mla4j_device.h"
#include "mla4j_quant.h"

// The block of row `row` (seq·T + t) and its slot there.
__device__ __forceinline__ unsigned char* row_block(const AppendParams& p, long long row,
                                                    int* slot) {
  const int seq = (int)(row / p.tokens);
  const int pos = p.first_pos[seq] + (int)(row - (long long)seq * p.tokens);
  *slot = pos % MLA4J_BLOCK_TOKENS;
  const int block = p.block_table[(long long)seq * p.max_blocks + pos / MLA4J_BLOCK_TOKENS];
  return p.pool + (long long)block * p.block_bytes;
}

// DType.floatToBf16: round to nearest even, NaN keeps its top bits with the quiet bit set.
__device__ __forceinline__ unsigned short bf16_bits(float x) {
  const unsigned int b = __float_as_uint(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) {
    return (unsigned short)((b >> 16) | 0x40u);
  }
  return (unsigned short)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// Float.floatToFloat16: IEEE round to nearest even; NaN with Java's payload rule.
__device__ __forceinline__ unsigned short f16_bits(float x) {
  const unsigned int b = __float_as_uint(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) {
    return (unsigned short)(((b >> 16) & 0x8000u) | 0x7c00u | ((b & 0x007fe000u) >> 13)
                            | ((b & 0x00001ff0u) >> 4) | (b & 0xfu));
  }
  return to_f16(x);
}

// One thread per element, grid-stride.
extern "C" __global__ void __launch_bounds__(MLA4J_APPEND_THREADS)
mla4j_append_plain(const AppendParams p) {
  const long long total = (long long)p.seqs * p.tokens * p.width;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long row = i / p.width;
    const int col = (int)(i - row * p.width);
    int slot;
    unsigned char* part = row_block(p, row, &slot) + p.part_offset;
    const float x = p.src[row * p.src_stride + col];
    const long long at = (long long)slot * p.width + col;
    if (p.dtype == MLA4J_F32) {
      ((float*)part)[at] = x;
    } else if (p.dtype == MLA4J_BF16) {
      ((unsigned short*)part)[at] = bf16_bits(x);
    } else {
      ((unsigned short*)part)[at] = f16_bits(x);
    }
  }
}

// max|x| over a warp, NaN-propagating like Java's Math.max (fmaxf would drop NaN).
__device__ __forceinline__ float warp_absmax(float a) {
  for (int o = 16; o > 0; o >>= 1) {
    const float b = __shfl_xor_sync(0xffffffffu, a, o);
    a = (b > a || b != b) ? b : a;
  }
  return a;
}

// One warp per (row, segment, group): reduce max|x|, write the scale, then the codes. INT4
// lanes own bytes (element j and j + ceil(m/2)), so no two lanes write one byte.
template <bool HW_FP8>
__device__ void append_quantized(const AppendParams& p) {
  const int lane = threadIdx.x & 31;
  const long long unit = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (unit >= (long long)p.seqs * p.tokens * p.scale_row) {
    return;
  }
  const long long row = unit / p.scale_row;
  const int k = (int)(unit - row * p.scale_row);  // scale index in the row: s·groups + g
  const int segments = p.width / p.seg;
  const int groups = p.scale_row / segments;
  const int s = k / groups;
  const int g = k - s * groups;
  const int m = min(p.group, p.seg - g * p.group);
  const float* x = p.src + row * p.src_stride + (long long)s * p.seg + g * p.group;

  float amax = 0.f;
  for (int i = lane; i < m; i += 32) {
    const float a = fabsf(x[i]);
    amax = (a > amax || a != a) ? a : amax;
  }
  amax = warp_absmax(amax);
  const int qmax = p.quant == MLA4J_Q_INT8 ? 127 : p.quant == MLA4J_Q_INT4 ? 7 : 448;
  unsigned short scale_bits;
  if (amax != amax) {  // the first NaN in element order decides the scale's bits
    scale_bits = 0;
    for (int i0 = 0; i0 < m; i0 += 32) {
      const unsigned int hits = __ballot_sync(0xffffffffu, i0 + lane < m && x[i0 + lane] != x[i0 + lane]);
      if (hits != 0u) {
        scale_bits = nan_scale_bits(__float_as_uint(x[i0 + __ffs(hits) - 1]));
        break;
      }
    }
  } else {
    scale_bits = bf16_round_up(__fdiv_rn(amax, (float)qmax));
  }
  const float scale = bf16_value(scale_bits);
  const bool divide = scale > 0.f && __float_as_uint(scale) < 0x7f800000u;

  int slot;
  unsigned char* block = row_block(p, row, &slot);
  if (lane == 0) {
    ((unsigned short*)(block + p.scales_offset))[(long long)slot * p.scale_row + k] = scale_bits;
  }
  const int group_bytes = p.quant == MLA4J_Q_INT4 ? p.group / 2 : p.group;
  unsigned char* codes = block + p.part_offset + (long long)slot * p.code_row
      + s * (p.code_row / segments) + g * group_bytes;
  if (p.quant == MLA4J_Q_INT8) {
    for (int i = lane; i < m; i += 32) {
      codes[i] = (unsigned char)int_code(x[i], scale, divide, 127);
    }
  } else if (p.quant == MLA4J_Q_FP8) {
    for (int i = lane; i < m; i += 32) {
      codes[i] = (unsigned char)(divide ? e4m3_code<HW_FP8>(__fdiv_rn(x[i], scale)) : 0u);
    }
  } else {
    const int half = (m + 1) >> 1;
    for (int j = lane; j < half; j += 32) {
      const int lo = int_code(x[j], scale, divide, 7) & 15;
      const int hi = j + half < m ? int_code(x[j + half], scale, divide, 7) & 15 : 0;
      codes[j] = (unsigned char)(lo | (hi << 4));
    }
  }
}

extern "C" __global__ void __launch_bounds__(MLA4J_APPEND_THREADS)
mla4j_append_quantized(const AppendParams p) { append_quantized<true>(p); }

// The software FP8 encode (what sm_80 runs), exported so GPUs with the instruction test it too.
extern "C" __global__ void __launch_bounds__(MLA4J_APPEND_THREADS)
mla4j_append_quantized_sw(const AppendParams p) { append_quantized<false>(p); }
