// Quantized latent for the tensor-core MLA kernel (mla4j_mla_mma.h): INT8 / INT4 / E4M3 codes
// widened to FP16 pairs, a tile dequantized in place in shared memory with each token's scales
// folded in and normalized by its largest one, the tokens' exponents applied to their scores.
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

// Eight INT4 codes as FP16 pairs. w holds bytes j..j+3 of a group, whose low nibbles are the
// group's elements j..j+3 and whose high nibbles are elements j + G/2 .. j + G/2 + 3 (the cache's
// half-split layout, mla4j_quant.h). f01 = {element j, j + 1}, f23 = {j + 2, j + 3} of the nibbles
// at shift sf (0: low, 4: high), s01 and s23 the same of those at shift ss. A nibble n (two's
// complement) XOR 8 is n + 8, which with 0x6400 ORed in is the FP16 1024 + n + 8; subtracting
// 1032 leaves n, exactly.
__device__ __forceinline__ void mlq_widen_int4(unsigned w, int sf, int ss, unsigned& f01,
                                               unsigned& f23, unsigned& s01, unsigned& s23) {
  const unsigned t01 = mlq_prmt(w, 0u, 0x4140u);  // {byte 0, byte 1} in the low byte of each half
  const unsigned t23 = mlq_prmt(w, 0u, 0x4342u);
  const unsigned bias = 0x64086408u;
  // (x & 0x000f000f) ^ bias, one LOP3 (the bias's 0x6400 bits lie outside the mask)
  auto nib = [&](unsigned x) {
    unsigned d;
    asm("lop3.b32 %0, %1, %2, %3, 0x6a;" : "=r"(d) : "r"(x), "r"(0x000f000fu), "r"(bias));
    asm("sub.rn.f16x2 %0, %0, %1;" : "+r"(d) : "r"(bias));
    return d;
  };
  f01 = nib(t01 >> sf);
  f23 = nib(t23 >> sf);
  s01 = nib(t01 >> ss);
  s23 = nib(t23 >> ss);
}

// Where a quantized latent row of L columns keeps its codes, and how a warp's lanes split them.
// INT8 / FP8: chunks of 16 codes (16 bytes), each widened to 32 contiguous bytes. INT4 (two codes
// per byte, rows of L/2 bytes): chunks of 8 bytes, whose 8 low nibbles and 8 high nibbles land as
// two runs of 16 bytes G/2 columns apart. Chunk k of a lane is bytes (lane + 32·k)·chunk_bytes.
template <int Q, int L>
struct MlqRow {
  static constexpr int bytes = Q == MLA4J_Q_INT4 ? L / 2 : L;
  static constexpr int chunk_bytes = Q == MLA4J_Q_INT4 ? 8 : 16;
  static constexpr int chunks = bytes / 32 / chunk_bytes;  // per lane: 1, 2 or 4
};

// Each chunk's two 16-byte stores (INT4: its low and high nibbles' runs; INT8/FP8: the halves
// of its 32 bytes) sit at 16-byte slots (address / 16 mod 8) that, in lane order, repeat every 4
// lanes, so the 8 lanes of a store phase hit 4 slots: a 2-way bank conflict per store (4-way for
// the 16-byte INT4 chunks of the first version, which Nsight Compute showed at d_kv 32: 9.7-way
// on average over all shared stores, against INT8's 5.3). Lanes with bit 2 set store their second
// run first, which gives the 8 lanes 8 slots. INT4 swaps through its nibble shifts (two more
// shifts per word); INT8/FP8 through four selects per chunk, which lost at L = 512. H100, batch
// 64, 32K, two rounds in one call (native/NOTES.md, stop 29): INT4 8-byte chunks without -> with
// the swap d_kv 16 1582 -> 1532-1535 us, d_kv 32 3457-3461 -> 3102-3107, d_kv 64 7364-7367 ->
// 6547-6562; INT8 / FP8 with it at every L: d_kv 16 1505-1508 -> 1539-1541 / 1533-1534 ->
// 1538-1561 (kept off there), d_kv 32 3215-3220 -> 3206-3213 / 3233-3239 -> 3072, d_kv 64 6842
// -> 6719-6720 / 6858-6859 -> 6620-6621.
template <int Q, int L>
struct MlqSwapRuns {
  static constexpr bool value = Q == MLA4J_Q_INT4 || L >= 1024;
};

// INT4: the chunk at byte b of a segment whose groups are m columns (m/2 bytes) long lies in
// group b / (m/2), as that group's low nibbles (its first m/2 columns) and high ones; returns the
// byte offset in the FP16 row of the run stored first: the low one, or the high one where swap.
__device__ __forceinline__ int mlq_int4_first_run(int b, int m, bool swap, int& group) {
  const int half = m / 2;
  group = b / half;
  return 2 * (group * m + b - group * half) + (swap ? 2 * half : 0);
}

// Lane chunk j's scale index and where its two runs go: first[j] the byte offset in the FP16 row
// of the run stored first, first[j] + delta of the other. INT4: the chunk lies in one group's low
// or high half when G/2 is a multiple of 8 (the host asks G % 32 == 0); shift is the nibble shift
// of the run stored first (0: low nibbles, 4: high). INT8/FP8: swap says the chunk's second half
// is stored first.
template <int Q, int L>
struct MlqLaneChunks {
  int group[MlqRow<Q, L>::chunks];
  int first[MlqRow<Q, L>::chunks];
  int delta;
  int shift;
  bool swap;

  __device__ __forceinline__ MlqLaneChunks(int lane, int g) {
    if constexpr (Q == MLA4J_Q_NONE) return;  // the BF16 instances have no codes
    constexpr bool int4 = Q == MLA4J_Q_INT4;
    swap = MlqSwapRuns<Q, L>::value && (lane & 4) != 0;
    const int half = g / 2;
    shift = int4 && swap ? 4 : 0;
    delta = int4 ? (swap ? -2 * half : 2 * half) : (swap ? -16 : 16);
#pragma unroll
    for (int j = 0; j < MlqRow<Q, L>::chunks; j++) {
      const int b = (lane + 32 * j) * MlqRow<Q, L>::chunk_bytes;
      if constexpr (int4) {
        first[j] = mlq_int4_first_run(b, g, swap, group[j]);
      } else {
        group[j] = b / g;
        first[j] = 2 * b + (swap ? 16 : 0);
      }
    }
  }
};

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
// Rope segments of 8 codes (d_r 8, mla_mma's R8): codes 8-15 of a chunk are the next kv head's
// segment, whose scale is sidx2[k] + shift(row).
template <int RCPL>
struct RopeRows {
  unsigned short* stage;  // the tile's rope stage
  int rq;                 // its row stride in elements
  int span;               // codes per row
  int par0, rowpar;
  int sidx[RCPL];
  int sidx2[RCPL];        // R8 only
  // INT4 only: the byte offset in the stage row of chunk k's run stored first, the other's
  // delta on, and the nibble shift of the first (0: low nibbles, 4: high)
  int first[RCPL];
  int delta, shift;
};

// The lane-level form of a row's chunk of 16 codes (words w): widened, codes 0-7 times the FP16
// pair s2 stored as 16 bytes at dst0, codes 8-15 times s2b at dst1.
template <int Q>
__device__ __forceinline__ void mlq_widen_store(const unsigned (&w)[4], unsigned s2, unsigned s2b,
                                                unsigned char* dst0, unsigned char* dst1) {
  unsigned h[8];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    mlq_widen<Q>(w[k], h[2 * k], h[2 * k + 1]);
    h[2 * k] = mlq_hmul2(h[2 * k], k < 2 ? s2 : s2b);
    h[2 * k + 1] = mlq_hmul2(h[2 * k + 1], k < 2 ? s2 : s2b);
  }
  *(uint4*)dst0 = make_uint4(h[0], h[1], h[2], h[3]);
  *(uint4*)dst1 = make_uint4(h[4], h[5], h[6], h[7]);
}

// The same with one scale for all 16 codes.
template <int Q>
__device__ __forceinline__ void mlq_widen_store(const unsigned (&w)[4], unsigned s2,
                                                unsigned char* dst0, unsigned char* dst1) {
  mlq_widen_store<Q>(w, s2, s2, dst0, dst1);
}

// The same for 16 INT4 codes (words w[0], w[1]: 8 bytes of one group): the nibbles at shift sf
// (0: low, 4: high) as 8 FP16 values at dst0, the others at dst1.
__device__ __forceinline__ void mlq_widen_store_int4(const unsigned (&w)[4], int sf, unsigned s2,
                                                     unsigned char* dst0, unsigned char* dst1) {
  unsigned f[4], g[4];
#pragma unroll
  for (int k = 0; k < 2; k++) {
    mlq_widen_int4(w[k], sf, 4 - sf, f[2 * k], f[2 * k + 1], g[2 * k], g[2 * k + 1]);
  }
#pragma unroll
  for (int m = 0; m < 4; m++) {
    f[m] = mlq_hmul2(f[m], s2);
    g[m] = mlq_hmul2(g[m], s2);
  }
  *(uint4*)dst0 = make_uint4(f[0], f[1], f[2], f[3]);
  *(uint4*)dst1 = make_uint4(g[0], g[1], g[2], g[3]);
}

// 16 INT4 codes as two groups of 8 (words w[0], w[1]: 4 bytes each, a group's columns 0-3 in the
// low nibbles and 4-7 in the high ones): the first group times s2 as 8 FP16 values at dst, the
// second times s2b at dst + 16.
__device__ __forceinline__ void mlq_widen_store_int4_g8(const unsigned (&w)[4], unsigned s2,
                                                        unsigned s2b, unsigned char* dst) {
  unsigned f[4], g[4];
#pragma unroll
  for (int k = 0; k < 2; k++) {
    mlq_widen_int4(w[k], 0, 4, f[2 * k], f[2 * k + 1], g[2 * k], g[2 * k + 1]);
  }
  *(uint4*)dst = make_uint4(mlq_hmul2(f[0], s2), mlq_hmul2(f[1], s2), mlq_hmul2(g[0], s2),
                            mlq_hmul2(g[1], s2));
  *(uint4*)(dst + 16) = make_uint4(mlq_hmul2(f[2], s2b), mlq_hmul2(f[3], s2b),
                                   mlq_hmul2(g[2], s2b), mlq_hmul2(g[3], s2b));
}

// Dequantizes token rows warp, warp + WARPS, ... of a tile in place (the formula is at the top of
// mla4j_mla_mma.h): a warp owns whole rows, its lanes read their 16-code chunks (chunks
// lane + 32·j) and those chunks' scales (staged at byte L of the row), agree on each row's E_t,
// and only then overwrite the rows with the FP16 values, two 16-byte stores per chunk. Rows go in
// batches of NB, whose loads are all issued before the first is used (NB·CPL <= 4 chunks: 16
// registers). RQ: the same rows of the rope stage too (RopeRows), E_t over both rows' scales; R8:
// rope segments of 8 codes, two scales per chunk.
template <int L, int TK, int Q, int WARPS, bool RQ = false, int RCPL = 1, bool R8 = false>
__device__ __forceinline__ void mlq_dequantize_tile(unsigned short* tile, int qs,
                                                    const MlqLaneChunks<Q, L>& lc, int* texp,
                                                    int warp, int lane,
                                                    const RopeRows<RCPL>* rope = nullptr) {
  using R = MlqRow<Q, L>;
  constexpr int CPL = R::chunks;  // chunks per lane: 1, 2 or 4; lc.group[j]: chunk j's scale
  constexpr int NT = TK / WARPS;    // rows per warp
  constexpr int NB = (4 / CPL < NT) ? 4 / CPL : NT;
  constexpr int RB = RQ ? RCPL : 1;
#pragma unroll
  for (int b0 = 0; b0 < NT; b0 += NB) {
    uint4 c[NB][CPL];
    unsigned sb[NB][CPL];
    uint4 rc[NB][RB];
    unsigned rs[NB][RB];
    unsigned rs2[NB][RB];
    int e[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) {
      const unsigned char* row = (const unsigned char*)(tile + (warp + (b0 + b) * WARPS) * qs);
#pragma unroll
      for (int j = 0; j < CPL; j++) {
        if constexpr (R::chunk_bytes == 16) {
          c[b][j] = *(const uint4*)(row + (lane + 32 * j) * 16);
        } else {
          const uint2 v = *(const uint2*)(row + (lane + 32 * j) * R::chunk_bytes);
          c[b][j] = make_uint4(v.x, v.y, 0u, 0u);
        }
        sb[b][j] = ((const unsigned short*)(row + L))[lc.group[j]];
      }
      if constexpr (RQ) {
        const int r = warp + (b0 + b) * WARPS;
        const unsigned char* rrow = (const unsigned char*)(rope->stage + r * rope->rq);
        const int shift = (rope->par0 + r * rope->rowpar) & 1;
#pragma unroll
        for (int k = 0; k < RCPL; k++) {
          rs[b][k] = 0;
          rs2[b][k] = 0;
          if (rope->sidx[k] >= 0) {
            if constexpr (Q == MLA4J_Q_INT4) {
              const uint2 v = *(const uint2*)(rrow + (lane + 32 * k) * 8);
              rc[b][k] = make_uint4(v.x, v.y, 0u, 0u);
            } else {
              rc[b][k] = *(const uint4*)(rrow + (lane + 32 * k) * 16);
            }
            rs[b][k] = ((const unsigned short*)(rrow + rope->span))[rope->sidx[k] + shift];
            if constexpr (R8) {
              rs2[b][k] = ((const unsigned short*)(rrow + rope->span))[rope->sidx2[k] + shift];
            }
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
        if constexpr (R8) {
#pragma unroll
          for (int k = 0; k < RCPL; k++) mb = max(mb, (int)rs2[b][k]);
        }
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
        if constexpr (Q == MLA4J_Q_INT4) {
          // 16 codes: the run of the nibbles at lc.shift at lc.first[j], the other's lc.delta on
          mlq_widen_store_int4(w, lc.shift, s2, row + lc.first[j], row + lc.first[j] + lc.delta);
        } else if constexpr (MlqSwapRuns<Q, L>::value) {
          // the halves' words exchanged where lc.swap, so the first store holds the second half
          const unsigned v[4] = {lc.swap ? w[2] : w[0], lc.swap ? w[3] : w[1],
                                 lc.swap ? w[0] : w[2], lc.swap ? w[1] : w[3]};
          mlq_widen_store<Q>(v, s2, row + lc.first[j], row + lc.first[j] + lc.delta);
        } else {
          unsigned char* dst = row + (lane + 32 * j) * 32;
          mlq_widen_store<Q>(w, s2, dst, dst + 16);
        }
      }
      if constexpr (RQ) {
        unsigned char* rrow =
            (unsigned char*)(rope->stage + (warp + (b0 + b) * WARPS) * rope->rq);
#pragma unroll
        for (int k = 0; k < RCPL; k++) {
          if (rope->sidx[k] >= 0) {
            const float sf = from_bf16((bf16_t)rs[b][k]) * down;
            const unsigned rw[4] = {rc[b][k].x, rc[b][k].y, rc[b][k].z, rc[b][k].w};
            if constexpr (R8) {  // two segments: codes 0-7 under sidx, 8-15 under sidx2
              const float sf2 = from_bf16((bf16_t)rs2[b][k]) * down;
              if constexpr (Q == MLA4J_Q_INT4) {
                mlq_widen_store_int4_g8(rw, pack_half2(sf, sf), pack_half2(sf2, sf2),
                                        rrow + rope->first[k]);
              } else {
                unsigned char* dst = rrow + (lane + 32 * k) * 32;
                mlq_widen_store<Q>(rw, pack_half2(sf, sf), pack_half2(sf2, sf2), dst, dst + 16);
              }
            } else if constexpr (Q == MLA4J_Q_INT4) {
              mlq_widen_store_int4(rw, rope->shift, pack_half2(sf, sf), rrow + rope->first[k],
                                   rrow + rope->first[k] + rope->delta);
            } else {
              unsigned char* dst = rrow + (lane + 32 * k) * 32;
              mlq_widen_store<Q>(rw, pack_half2(sf, sf), dst, dst + 16);
            }
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
