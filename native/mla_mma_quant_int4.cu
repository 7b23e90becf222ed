// Absorbed MLA decode on tensor cores over an INT4 latent cache (two codes per byte, each group of
// G columns half-split: byte j holds element j in its low nibble and j + G/2 in its high one) with
// one BF16 scale per token and group: the INT4 instances of mla_mma (mla4j_mla_mma.h). A tile's
// codes (L/2 bytes a token) are copied as stored and widened in place, in shared memory, into the
// FP16 stage row they were copied into (mla4j_mma_quant.h); the two products then run as for
// INT8. Rope keys BF16, or INT4 too (the qrope instances, as mla_mma_quant_rope.cu's: their codes
// staged and widened with the latent's, each 8-byte chunk inside one group of min(G, d_r)). No
// full-precision copy of the cache exists beyond the tile being read.
#include "mla4j_mla_mma.h"

// One instance per (m16 head tiles, latent width, tile tokens), as mla_mma_quant.cu's.
#define MLQ4_KERNEL(NAME, Q, MT, LW, TK)                                       \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                 \
  mla4j_mla_mma_##NAME##_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {      \
    mla_mma<MT, LW, TK, Q>(p);                                                 \
  }
MLA_QUANT_SHAPES(MLQ4_KERNEL, int4, MLA4J_Q_INT4)

#define MLQ4R_KERNEL(NAME, Q, MT, LW, TK)                                        \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                   \
  mla4j_mla_mma_##NAME##_qrope_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {  \
    mla_mma<MT, LW, TK, Q, true>(p);                                             \
  }
MLA_QUANT_SHAPES(MLQ4R_KERNEL, int4, MLA4J_Q_INT4)
