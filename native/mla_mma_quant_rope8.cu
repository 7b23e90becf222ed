// Absorbed MLA decode on tensor cores over an INT8, FP8 or INT4 cache whose rope keys are
// quantized like the latent and are 8 codes per kv head (d_r 8: MHA2MLA of a model with d_h 64,
// such as the SmolLM family): the instances of mla_mma with RQ and R8 set (mla4j_mla_mma.h). As
// mla_mma_quant_rope.cu, except that each 16-code rope chunk a lane widens holds two kv heads'
// segments, each under its own scale (mla4j_mma_quant.h); INT4's two 4-byte groups per chunk are
// stored in column order.
#include "mla4j_mla_mma.h"

// One instance per (format, m16 head tiles, latent width, tile tokens), as mla_mma_quant.cu's.
#define MLQR8_KERNEL(NAME, Q, MT, LW, TK)                                         \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                    \
  mla4j_mla_mma_##NAME##_qrope8_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {  \
    mla_mma<MT, LW, TK, Q, true, true>(p);                                        \
  }
MLA_QUANT_SHAPES(MLQR8_KERNEL, int8, MLA4J_Q_INT8)
MLA_QUANT_SHAPES(MLQR8_KERNEL, fp8, MLA4J_Q_FP8)
MLA_QUANT_SHAPES(MLQR8_KERNEL, int4, MLA4J_Q_INT4)
