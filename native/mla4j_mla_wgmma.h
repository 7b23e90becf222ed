// The carve-up and helpers the wgmma MLA kernels share: mla_wgmma.cu (BF16 latent) and
// mla_wgmma_quant.cu (INT8 / FP8 latent dequantized into the same FP16 layout). DeepSeek's
// shape: L = 512, one shared rope key of d_r = 64, 64 heads per CTA, 64-token tiles.
#ifndef MLA4J_MLA_WGMMA_H
#define MLA4J_MLA_WGMMA_H
#include "mla4j_mma.h"
#include "mla4j_wgmma.h"

#define WG_THREADS 256
#define WG_HEADS 64                  // heads per CTA: M of every wgmma
#define WG_L 512                     // latent columns
#define WG_DR 64                     // shared rope key columns
#define WG_BLOCKS 9                  // 64-column blocks of a key row: 8 latent + 1 rope
#define WG_TK 64                     // tokens per tile: one cache block
#define WG_STAGES 2
#define WG_Q_BYTES (WG_BLOCKS * WG_HEADS * 128)
#define WG_TILE_BYTES (WG_BLOCKS * WG_TK * 128)
#define WG_P_BYTES (WG_HEADS * 128)
// Byte offsets in the (1024-aligned) shared carve-up; KernelChoice.MLA_WGMMA_SHARED mirrors the
// total, with 1024 bytes of slack for the alignment.
#define WG_Q_OFF 0
#define WG_K_OFF (WG_Q_OFF + WG_Q_BYTES)
#define WG_P_OFF (WG_K_OFF + WG_STAGES * WG_TILE_BYTES)
#define WG_F_OFF (WG_P_OFF + WG_P_BYTES)  // floats alpha, m, l [WG_HEADS] each, then 4 flags
#define WG_SHARED (WG_F_OFF + 3 * WG_HEADS * 4 + 16 + 1024)
#define WG_BAR_P 1                         // named barrier: P of a tile published
#define WG_SLACK 8.f                       // log2 of the largest unnormalized probability

// O rows r_lo (accumulators 4n, 4n + 1) and r_lo + 8 (4n + 2, 4n + 3) scaled by a_lo, a_hi.
__device__ __forceinline__ void rescale_rows(float (&o)[128], float a_lo, float a_hi) {
#pragma unroll
  for (int n = 0; n < 32; n++) {
    o[4 * n] *= a_lo;
    o[4 * n + 1] *= a_lo;
    o[4 * n + 2] *= a_hi;
    o[4 * n + 3] *= a_hi;
  }
}

// The kernels' epilogue: this thread's rows r_lo, r_lo + 8 of its warpgroup's 256 columns of O,
// times up, normalized by l where one split holds the row, else the split's partial state.
__device__ __forceinline__ void wg_store_o(const PagedAttnParams& p, const float (&o)[128],
                                           const float* s_m, const float* s_l, long long row0,
                                           int r_lo, float up) {
  const int tid = threadIdx.x, wg = tid >> 7, tq = tid & 3;
  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  const long long out0 = p.splits == 1 ? row0 : (long long)blockIdx.x * rows + row0;
  float* const dst = p.splits == 1 ? p.out : p.part_acc;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const int r = r_lo + 8 * half;
    const float l = s_l[r];
    const float f = (p.splits > 1 ? 1.f : (l > 0.f ? 1.f / l : 0.f)) * up;
    float* const out = dst + (out0 + r) * WG_L + wg * 256 + 2 * tq;
#pragma unroll
    for (int n = 0; n < 32; n++) {
      *(float2*)(out + 8 * n) = make_float2(o[4 * n + 2 * half] * f, o[4 * n + 2 * half + 1] * f);
    }
  }
  if (p.splits > 1 && tid < WG_HEADS) {
    p.part_ml[(out0 + tid) * 2] = s_m[tid] * MLA_LN2;  // the merge works in base e
    p.part_ml[(out0 + tid) * 2 + 1] = s_l[tid];
  }
}

#endif
