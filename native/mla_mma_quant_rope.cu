// Absorbed MLA decode on tensor cores over an INT8 or FP8 (E4M3) cache whose rope keys are
// quantized like the latent (CacheFormat.quantizeRopeKeys): the instances of mla_mma with RQ set
// (mla4j_mla_mma.h). A tile's rope codes and scales leave with its latent codes, and the warp that
// dequantizes a token's latent row dequantizes its rope row with it, to FP16 under the token's
// one exponent (mla4j_mma_quant.h); the score's rope k-steps then run on FP16 operands like the
// latent's. No full-precision copy of the cache exists beyond the tile being read.
#include "mla4j_mla_mma.h"

// One instance per (format, m16 head tiles, latent width, tile tokens), as mla_mma_quant.cu's.
#define MLQR_KERNEL(NAME, Q, MT, LW, TK)                                          \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                    \
  mla4j_mla_mma_##NAME##_qrope_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {   \
    mla_mma<MT, LW, TK, Q, true>(p);                                              \
  }
MLA_QUANT_SHAPES(MLQR_KERNEL, int8, MLA4J_Q_INT8)
MLA_QUANT_SHAPES(MLQR_KERNEL, fp8, MLA4J_Q_FP8)
