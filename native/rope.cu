// Partial RoPE on compact rope vectors in place (spec 2.4), same arithmetic as ScalarRope:
// the angle pos·θ is a float32 product, cos/sin are taken of it and rounded to float, then
// multiplied by the attention factor. One thread per (token, head, kept pair).
#include "mla4j_device.h"

extern "C" __global__ void mla4j_rope(const RopeParams p) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long total = (long long)p.tokens * p.heads * p.r;
  if (i >= total) {
    return;
  }
  const int m = (int)(i % p.r);
  const int h = (int)((i / p.r) % p.heads);
  const int t = (int)(i / ((long long)p.r * p.heads));
  const float angle = (float)p.positions[t] * p.inv_freq[(h / p.group) * p.r + m];
  const float c = (float)cos((double)angle) * p.attention;
  const float s = (float)sin((double)angle) * p.attention;
  float* x = p.x + t * p.row_stride + (long long)h * 2 * p.r;
  const float x1 = x[p.first[m]];
  const float x2 = x[p.second[m]];
  x[p.first[m]] = x1 * c - x2 * s;
  x[p.second[m]] = x2 * c + x1 * s;
}

// Deterministic pseudo-random fill in [-1, 1) for benchmark caches (never zeros: they hide
// unwritten outputs and can run faster than real data).
extern "C" __global__ void mla4j_fill_random(const FillParams p) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < p.n;
       i += (long long)gridDim.x * blockDim.x) {
    unsigned int h = (unsigned int)i * 2654435761u ^ (unsigned int)(i >> 32) ^ p.seed;
    h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
    const float v = (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
    if (p.dtype == MLA4J_F32) {
      ((float*)p.dst)[i] = v;
    } else if (p.dtype == MLA4J_BF16) {
      ((unsigned short*)p.dst)[i] = (unsigned short)(__float_as_uint(v) >> 16);
    } else {
      ((unsigned short*)p.dst)[i] = to_f16(v);
    }
  }
}
