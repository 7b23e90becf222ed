// The carve-up and helpers the wgmma MLA kernels share: mla_wgmma.cu (BF16 latent) and
// mla_wgmma_quant.cu (INT8 / FP8 latent dequantized into the same FP16 layout). DeepSeek's
// shape: L = 512, one shared rope key of d_r = 64, 64 heads per CTA, 64-token tiles.
#ifndef MLA4J_MLA_WGMMA_H
#define MLA4J_MLA_WGMMA_H
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

#endif
