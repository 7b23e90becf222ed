// Absorbed MLA decode on tensor cores over an INT8 or FP8 (E4M3) latent cache with one BF16 scale
// per token and group of latent columns: the quantized instances of mla_mma (mla4j_mla_mma.h).
// Each tile's codes are copied as stored (1 byte each) and dequantized once, in shared memory, into
// the FP16 stage row they were copied into; the two products then run as in the BF16 kernel, with
// FP16 operands. Only one tile is ever dequantized: no full-precision copy of the cache exists.
#include "mla4j_mla_mma.h"

// One instance per (format, m16 head tiles, latent width, tile tokens).
#define MLQ_KERNEL(NAME, Q, MT, LW, TK)                                        \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                 \
  mla4j_mla_mma_##NAME##_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {      \
    mla_mma<MT, LW, TK, Q>(p);                                                 \
  }
MLA_QUANT_SHAPES(MLQ_KERNEL, int8, MLA4J_Q_INT8)
MLA_QUANT_SHAPES(MLQ_KERNEL, fp8, MLA4J_Q_FP8)
