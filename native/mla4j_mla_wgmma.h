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

// Sum or maximum of a row's values over the 4 lanes of a quad (a row's 64 scores sit in them).
__device__ __forceinline__ void quad_max(float& lo, float& hi) {
#pragma unroll
  for (int off = 1; off <= 2; off <<= 1) {
    lo = fmaxf(lo, __shfl_xor_sync(0xffffffffu, lo, off));
    hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, off));
  }
}
__device__ __forceinline__ void quad_sum(float& lo, float& hi) {
#pragma unroll
  for (int off = 1; off <= 2; off <<= 1) {
    lo += __shfl_xor_sync(0xffffffffu, lo, off);
    hi += __shfl_xor_sync(0xffffffffu, hi, off);
  }
}

// A CTA's work (key range split, slab of 64 heads, query token: blockIdx x, y, z) and this
// thread's place in it.
struct WgCta {
  int tid, wg, lane, tq, warp4;
  int r_lo;        // this thread's accumulator rows: r_lo, r_lo + 8
  long long row0;  // the slab's first output row
  int tok_begin, tok_end, tiles;
  const int* table;  // the cache blocks of the split's key range, one per 64-token tile
  __device__ __forceinline__ explicit WgCta(const PagedAttnParams& p) {
    const int token_row = blockIdx.z;
    const int seq = token_row / p.tokens;
    const int t = token_row - seq * p.tokens;
    tid = threadIdx.x;
    wg = tid >> 7;
    lane = tid & 31;
    tq = lane & 3;
    warp4 = (tid >> 5) & 3;  // warp in the warpgroup
    r_lo = warp4 * 16 + (lane >> 2);
    row0 = (long long)token_row * p.heads + blockIdx.y * WG_HEADS;
    const KeyRange keys = split_keys(p, blockIdx.x, p.first_pos[seq] + t + 1);
    tok_begin = keys.begin;
    tok_end = keys.end;
    table = p.block_table + (long long)seq * p.max_blocks + tok_begin / WG_TK;
    tiles = tok_end > tok_begin ? (tok_end - tok_begin + WG_TK - 1) / WG_TK : 0;
  }
};

// The tile's scores masked past the key range's end (nvalid valid tokens) and each of the
// thread's two rows' maxima over its quad (s[4j + c]: token 8j + 2tq + (c & 1), row r_lo or
// r_lo + 8 by c / 2); score(j, c) gives the score in base-2 units before the mask.
template <typename Score>
__device__ __forceinline__ void masked_row_max(float (&s)[32], int nvalid, int tq, Score score,
                                               float& mx_lo, float& mx_hi) {
  mx_lo = MLA4J_NEG_INF;
  mx_hi = MLA4J_NEG_INF;
#pragma unroll
  for (int j = 0; j < 8; j++)
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int tok = 8 * j + 2 * tq + (c & 1);
      const float x = tok < nvalid ? score(j, c) : MLA4J_NEG_INF;
      s[4 * j + c] = x;
      if (c < 2) {
        mx_lo = fmaxf(mx_lo, x);
      } else {
        mx_hi = fmaxf(mx_hi, x);
      }
    }
  quad_max(mx_lo, mx_hi);
}

// mla_lazy_max (mla4j_mma.h) with m updated in place.
__device__ __forceinline__ float lazy_max(float mx, float& m, bool& moved) {
  float alpha;
  m = mla_lazy_max(mx, m, alpha, moved);
  return alpha;
}

// Warpgroup 1's P·C of a tile, once P, alpha and the flags are published (WG_BAR_P): its O rows
// rescaled where warpgroup 0's warp flagged a move, then O[:, 256..512] += P[64][64]·C from
// shared memory (v_desc: its four column blocks of the tile's stage, MN-major).
template <bool F16>
__device__ __forceinline__ void pc_from_shared(float (&o)[128], const int* s_rescale,
                                               const float* s_alpha, int warp4, int r_lo,
                                               unsigned long long p_desc, unsigned long long v_desc) {
  if (s_rescale[warp4]) rescale_rows(o, s_alpha[r_lo], s_alpha[r_lo + 8]);
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < WG_TK / 16; kk++) {
    wgmma_m64n256k16_bt<F16>(o, p_desc + kk * 2, v_desc + kk * (16 * 128 >> 4));
  }
}

// The rope keys' copy (cp.async, 16-byte chunks): chunk rc of rows rr0 + 16j into the tile's
// swizzled block 8. Rows from nvalid on are zero-filled.
struct RopeCopy {
  unsigned dst;
  long long src, step;
  int rr0;
  __device__ __forceinline__ RopeCopy(const PagedAttnParams& p, int ct) {
    const int rc = ct & 7;
    rr0 = ct >> 3;
    dst = 8 * WG_TK * 128 + rr0 * 128 + ((rc ^ (rr0 & 7)) << 4);
    src = p.b_offset + 2ll * (rr0 * p.b_row + rc * 8);
    step = 2ll * 16 * p.b_row;
  }
  __device__ __forceinline__ void copy(unsigned stage, const unsigned char* block, int nvalid) const {
#pragma unroll
    for (int j = 0; j < WG_TK / 16; j++) {
      cp_async16_s(stage + dst + j * 16 * 128, block + src + j * step, rr0 + 16 * j < nvalid);
    }
  }
};

// Warpgroup 0's softmax state to shared memory, for every thread's epilogue.
__device__ __forceinline__ void publish_ml(float* s_m, float* s_l, int r_lo, float m_lo,
                                           float m_hi, float l_lo, float l_hi) {
  if (threadIdx.x < 128 && (threadIdx.x & 3) == 0) {
    s_m[r_lo] = m_lo;
    s_m[r_lo + 8] = m_hi;
    s_l[r_lo] = l_lo;
    s_l[r_lo + 8] = l_hi;
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
