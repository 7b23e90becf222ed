// Absorbed MLA decode on tensor cores over a BF16 latent cache: the instances of mla_mma
// (mla4j_mla_mma.h), and the BF16 mma.sync throughput probe of the roofline.
#include "mla4j_mla_mma.h"

// One instance per (m16 head tiles, latent width, tile tokens): TK is a template parameter so that
// the score split, the softmax's token slots and every shared-memory stride are constants.
#define MLA_KERNEL(MT, LW, TK)                                                 \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                 \
  mla4j_mla_mma_bf16_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {          \
    mla_mma<MT, LW, TK, MLA4J_Q_NONE>(p);                                      \
  }
#define MLA_TILES(MT, LW) MLA_KERNEL(MT, LW, 16) MLA_KERNEL(MT, LW, 32) MLA_KERNEL(MT, LW, 64)
MLA_TILES(1, 8)
MLA_TILES(2, 8)
MLA_TILES(4, 8)
MLA_TILES(1, 16)
MLA_TILES(2, 16)
MLA_TILES(1, 32)

// The roofline's tensor-core ceiling: BF16 mma.sync throughput with no memory traffic.
// 8 independent accumulator chains per warp cover the MMA latency; FLOPs = 2·16·8·16 per MMA.
#define MMA_PEAK_CHAINS 8
extern "C" __global__ void mla4j_mma_peak_bf16(const PeakParams p) {
  unsigned a[4];
  const unsigned seed = threadIdx.x * 0x9e3779b9u + blockIdx.x;
#pragma unroll
  for (int i = 0; i < 4; i++) a[i] = (seed >> i) & 0x3f803f80u;  // small BF16 pairs, no overflow
  const unsigned b0 = a[0] ^ 0x00010001u;
  const unsigned b1 = a[1] ^ 0x00010001u;
  float d[MMA_PEAK_CHAINS][4] = {};
  for (long long it = 0; it < p.iters; it++) {
#pragma unroll
    for (int c = 0; c < MMA_PEAK_CHAINS; c++) mma_bf16(d[c], a, b0, b1);
  }
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < MMA_PEAK_CHAINS; c++) sum += d[c][0] + d[c][1] + d[c][2] + d[c][3];
  p.out[(long long)blockIdx.x * blockDim.x + threadIdx.x] = sum;
}
