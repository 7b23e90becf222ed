// The roofline's memory ceiling for the decode kernels, which read their cache and write almost
// nothing: a pure streaming read. A copy moves as many bytes out as in, and HBM's read and write
// turnarounds make it a different (lower) ceiling than the one a reading kernel meets.
#include "mla4j_params.h"

// Loads in flight per thread and round: at 2048 threads per SM, 4 x 16 B each is 128 KB per SM,
// more than the SM's share of the memory's bandwidth x latency product.
#define READ_PEAK_UNROLL 4

__device__ __forceinline__ void xor_into(uint4& acc, const uint4 v) {
  acc.x ^= v.x;
  acc.y ^= v.y;
  acc.z ^= v.z;
  acc.w ^= v.w;
}

// Every thread XOR-folds its 16-byte words (grid-stride, so each warp's loads are one contiguous
// 512-byte run) and writes the fold: out's XOR over all threads is the buffer's, which keeps the
// loads live and lets a test check that every byte was read.
extern "C" __global__ void __launch_bounds__(READ_PEAK_THREADS, READ_PEAK_BLOCKS_PER_SM) mla4j_read_peak(const ReadPeakParams p) {
  const uint4* src = (const uint4*)p.src;
  const long long n = p.bytes / 16;
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  uint4 acc = make_uint4(0u, 0u, 0u, 0u);
  for (; i + (READ_PEAK_UNROLL - 1) * stride < n; i += READ_PEAK_UNROLL * stride) {
    uint4 v[READ_PEAK_UNROLL];
#pragma unroll
    for (int u = 0; u < READ_PEAK_UNROLL; u++) v[u] = __ldcs(src + i + u * stride);
#pragma unroll
    for (int u = 0; u < READ_PEAK_UNROLL; u++) xor_into(acc, v[u]);
  }
  for (; i < n; i += stride) xor_into(acc, __ldcs(src + i));
  p.out[(long long)blockIdx.x * blockDim.x + threadIdx.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}
