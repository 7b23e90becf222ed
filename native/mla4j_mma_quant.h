// Quantized latent for the tensor-core MLA kernel (mla4j_mla_mma.h): INT8 / E4M3 codes widened to
// FP16 pairs, a tile dequantized in place in shared memory with each token's scales folded in and
// normalized by its largest one, the tokens' exponents applied to their scores.
#ifndef MLA4J_MMA_QUANT_H
#define MLA4J_MMA_QUANT_H
#include "mla4j_mma.h"

// Quantized latent: two codes per FP16 pair, scales folded in, exponents.
__device__ __forceinline__ unsigned mlq_prmt(unsigned a, unsigned b, unsigned sel) {
  unsigned d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
  return d;
}

__device__ __forceinline__ unsigned mlq_hmul2(unsigned a, unsigned b) {
  unsigned d;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

// Four codes (bytes 0..3 of w) as FP16 pairs: lo = {byte 0, byte 1}, hi = {byte 2, byte 3};
// exact for both formats.
template <int Q>
__device__ __forceinline__ void mlq_widen(unsigned w, unsigned& lo, unsigned& hi) {
  if (Q == MLA4J_Q_INT8) {
    // 0x6400 | (code + 128) is the FP16 1024 + code + 128; subtracting 1152 leaves the code.
    const unsigned u = w ^ 0x80808080u;
    const unsigned bias = 0x64806480u;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(lo) : "r"(mlq_prmt(u, 0x64646464u, 0x4140u)), "r"(bias));
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(hi) : "r"(mlq_prmt(u, 0x64646464u, 0x4342u)), "r"(bias));
  } else {
#if __CUDA_ARCH__ >= 890
    asm("{.reg .b16 a, b; mov.b32 {a, b}, %2;\n"
        " cvt.rn.f16x2.e4m3x2 %0, a; cvt.rn.f16x2.e4m3x2 %1, b;}"
        : "=r"(lo), "=r"(hi) : "r"(w));
#else
    // E4M3 bits s.eeee.mmm placed as FP16 s.0eeee.mmm0000000 are the value times 2^-8 (subnormals
    // included); multiplying by 2^8 is exact.
    const unsigned t0 = mlq_prmt(w, 0u, 0x1404u);
    const unsigned t1 = mlq_prmt(w, 0u, 0x3424u);
    const unsigned two8 = 0x5c005c00u;
    lo = mlq_hmul2((t0 & 0x80008000u) | ((t0 >> 1) & 0x3f803f80u), two8);
    hi = mlq_hmul2((t1 & 0x80008000u) | ((t1 >> 1) & 0x3f803f80u), two8);
#endif
  }
}

// 2^e for integer e, exact in [-126, 127]; 0 for e <= -127.
__device__ __forceinline__ float mlq_pow2(int e) { return __int_as_float(max(e + 127, 0) << 23); }

// The largest of the warp's values (sm_80+).
__device__ __forceinline__ int mlq_warp_max(int v) {
  int r;
  asm("redux.sync.max.s32 %0, %1, 0xffffffff;" : "=r"(r) : "r"(v));
  return r;
}

// Quantized rope keys beside the latent (mla_mma's RQ): a tile's rope stage rows hold the slab's
// span of codes at byte 0 and its scales at byte span, from index shift(row) on, where
// shift(row) = (par0 + row·rowpar) & 1 (scales are copied as 4-byte words from an even index).
// Lane chunk k (codes 16·(lane + 32·k)) has scale sidx[k] + shift(row), sidx[k] -1 past the span.
template <int RCPL>
struct RopeRows {
  unsigned short* stage;  // the tile's rope stage
  int rq;                 // its row stride in elements
  int span;               // codes per row
  int par0, rowpar;
  int sidx[RCPL];
};

// The lane-level form of a row's chunk of 16 codes: c[i] widened, times the FP16 pair s2, stored
// as 32 bytes at dst.
template <int Q>
__device__ __forceinline__ void mlq_widen_store(const uint4& c, unsigned s2, unsigned char* dst) {
  const unsigned w[4] = {c.x, c.y, c.z, c.w};
  unsigned h[8];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    mlq_widen<Q>(w[k], h[2 * k], h[2 * k + 1]);
    h[2 * k] = mlq_hmul2(h[2 * k], s2);
    h[2 * k + 1] = mlq_hmul2(h[2 * k + 1], s2);
  }
  ((uint4*)dst)[0] = make_uint4(h[0], h[1], h[2], h[3]);
  ((uint4*)dst)[1] = make_uint4(h[4], h[5], h[6], h[7]);
}

// Dequantizes token rows warp, warp + WARPS, ... of a tile in place (the formula is at the top of
// mla4j_mla_mma.h): a warp owns whole rows, its lanes read their 16-code chunks (chunks
// lane + 32·j) and those chunks' scales (staged at byte L of the row), agree on each row's E_t,
// and only then overwrite the rows with the FP16 values, two 16-byte stores per chunk. Rows go in
// batches of NB, whose loads are all issued before the first is used (NB·CPL <= 4 chunks: 16
// registers). RQ: the same rows of the rope stage too (RopeRows), E_t over both rows' scales.
template <int L, int TK, int Q, int WARPS, bool RQ = false, int RCPL = 1>
__device__ __forceinline__ void mlq_dequantize_tile(unsigned short* tile, int qs,
                                                    const int (&group)[L / 16 / 32], int* texp,
                                                    int warp, int lane,
                                                    const RopeRows<RCPL>* rope = nullptr) {
  constexpr int CPL = L / 16 / 32;  // chunks per lane: 1, 2 or 4; group[j]: chunk j's scale
  constexpr int NT = TK / WARPS;    // rows per warp
  constexpr int NB = (4 / CPL < NT) ? 4 / CPL : NT;
  constexpr int RB = RQ ? RCPL : 1;
#pragma unroll
  for (int b0 = 0; b0 < NT; b0 += NB) {
    uint4 c[NB][CPL];
    unsigned sb[NB][CPL];
    uint4 rc[NB][RB];
    unsigned rs[NB][RB];
    int e[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) {
      const unsigned char* row = (const unsigned char*)(tile + (warp + (b0 + b) * WARPS) * qs);
#pragma unroll
      for (int j = 0; j < CPL; j++) {
        c[b][j] = *(const uint4*)(row + (lane + 32 * j) * 16);
        sb[b][j] = ((const unsigned short*)(row + L))[group[j]];
      }
      if constexpr (RQ) {
        const int r = warp + (b0 + b) * WARPS;
        const unsigned char* rrow = (const unsigned char*)(rope->stage + r * rope->rq);
        const int shift = (rope->par0 + r * rope->rowpar) & 1;
#pragma unroll
        for (int k = 0; k < RCPL; k++) {
          rs[b][k] = 0;
          if (rope->sidx[k] >= 0) {
            rc[b][k] = *(const uint4*)(rrow + (lane + 32 * k) * 16);
            rs[b][k] = ((const unsigned short*)(rrow + rope->span))[rope->sidx[k] + shift];
          }
        }
      }
    }
#pragma unroll
    for (int b = 0; b < NB; b++) {
      int mb = 0;
#pragma unroll
      for (int j = 0; j < CPL; j++) mb = max(mb, (int)sb[b][j]);  // positive BF16s order as bits
      if constexpr (RQ) {
#pragma unroll
        for (int k = 0; k < RCPL; k++) mb = max(mb, (int)rs[b][k]);
      }
      mb = mlq_warp_max(mb);
      // E_t in [-126, 126]: scales are BF16, so 2^-E_t is a normal float and s·2^-E_t is exact
      e[b] = min(max(((mb >> 7) & 0xff) - 127, -126), 126);
    }
    __syncwarp();  // every lane holds its codes before any lane overwrites the rows
#pragma unroll
    for (int b = 0; b < NB; b++) {
      unsigned char* row = (unsigned char*)(tile + (warp + (b0 + b) * WARPS) * qs);
      const float down = mlq_pow2(-e[b]);
#pragma unroll
      for (int j = 0; j < CPL; j++) {
        const float sf = from_bf16((bf16_t)sb[b][j]) * down;
        const unsigned s2 = pack_half2(sf, sf);
        const unsigned w[4] = {c[b][j].x, c[b][j].y, c[b][j].z, c[b][j].w};
        unsigned h[8];
#pragma unroll
        for (int k = 0; k < 4; k++) {
          mlq_widen<Q>(w[k], h[2 * k], h[2 * k + 1]);
          h[2 * k] = mlq_hmul2(h[2 * k], s2);
          h[2 * k + 1] = mlq_hmul2(h[2 * k + 1], s2);
        }
        uint4* dst = (uint4*)(row + (lane + 32 * j) * 32);
        dst[0] = make_uint4(h[0], h[1], h[2], h[3]);
        dst[1] = make_uint4(h[4], h[5], h[6], h[7]);
      }
      if constexpr (RQ) {
        unsigned char* rrow =
            (unsigned char*)(rope->stage + (warp + (b0 + b) * WARPS) * rope->rq);
#pragma unroll
        for (int k = 0; k < RCPL; k++) {
          if (rope->sidx[k] >= 0) {
            const float sf = from_bf16((bf16_t)rs[b][k]) * down;
            mlq_widen_store<Q>(rc[b][k], pack_half2(sf, sf), rrow + (lane + 32 * k) * 32);
          }
        }
      }
      if (lane == 0) texp[warp + (b0 + b) * WARPS] = e[b];
    }
  }
}

// Quantized latent: a unit's latent scores times 2^E_t of their tokens (e: E_t of the thread's
// first column, tok + 2·tq), both accumulator chains.
template <int NT, int CH, int NA>
__device__ __forceinline__ void mlq_scale_scores(float (&acc)[CH][NA][4], const int* e) {
#pragma unroll
  for (int nt = 0; nt < NT; nt++) {
    const float f0 = mlq_pow2(e[nt * 8]), f1 = mlq_pow2(e[nt * 8 + 1]);
#pragma unroll
    for (int ch = 0; ch < CH; ch++) {
      acc[ch][nt][0] *= f0;
      acc[ch][nt][1] *= f1;
      acc[ch][nt][2] *= f0;
      acc[ch][nt][3] *= f1;
    }
  }
}

#endif
