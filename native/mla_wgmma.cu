// Absorbed MLA decode on Hopper warpgroup MMAs (v5, sm_90a only), BF16 latent cache, DeepSeek's
// layout: L = 512 latent columns and one shared rope key of d_r = 64 per token, n_h a multiple
// of 64. Same parameter struct (PagedAttnParams) and split-state layout as attention.cu, whose
// merge kernel finishes split runs.
//
// Why a second kernel: at 242 FLOP/byte, 2.3 TB/s needs ~560 TFLOP/s, which mma.sync's
// register-fed chains (ldmatrix, MMA, 8 warps per SM) did not get past ~165 (NOTES.md, v3-v4).
// wgmma reads both operands from shared memory and runs asynchronously, so one instruction
// covers a 64 x N x 16 product and the warps are free for the softmax meanwhile.
//
// CTA = (key range split, slab of 64 heads, query token), two warpgroups. Per 64-token tile (one
// cache block), copied by warpgroup 1 with 16-byte cp.async one tile ahead into the
// 128B-swizzled layout of mla4j_wgmma.h as 9 column blocks [64 tokens][64] (8 latent, 1 rope):
//   S[64][64]   = Q~[64][576]·K[64][576]ᵀ      warpgroup 0: 36 x m64n64k16 (Q~ and K K-major)
//   softmax      in warpgroup 0's registers; P (BF16), the rows' rescale and per-warp rescale
//                flags to shared memory, handed to warpgroup 1 by a named barrier
//   O[64][512]  = O·alpha + P[64][64]·C[64][512]  warpgroup w: columns 256w.., 4 x m64n256k16
//                                                  (C read MN-major from the same tile; warpgroup
//                                                  0's P from registers, issued per 32 tokens)
// A row's reference maximum moves only when a tile exceeds it by more than 2^8, so most tiles
// skip the O rescale. Queries (pre-scaled by scale·log2 e) and probabilities are rounded to BF16
// for the MMA, as in mla_mma.cu.
#include "mla4j_device.h"
#include "mla4j_mma.h"
#include "mla4j_mla_wgmma.h"

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_bf16_h64_l512_r64(const PagedAttnParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned raw = smem_addr(smem_raw);
  const unsigned base = (raw + 1023u) & ~1023u;
  unsigned char* const smem = smem_raw + (base - raw);
  const unsigned q_s = base + WG_Q_OFF, k_s = base + WG_K_OFF, p_s = base + WG_P_OFF;
  float* const s_alpha = (float*)(smem + WG_F_OFF);
  float* const s_m = s_alpha + WG_HEADS;
  float* const s_l = s_m + WG_HEADS;
  int* const s_rescale = (int*)(s_l + WG_HEADS);  // [4] per warp of warpgroup 0: a row moved

  const WgCta cta(p);
  const int tid = cta.tid, wg = cta.wg, lane = cta.lane, tq = cta.tq, warp4 = cta.warp4;
  const int r_lo = cta.r_lo, tok_begin = cta.tok_begin, tok_end = cta.tok_end, tiles = cta.tiles;
  const long long row0 = cta.row0;
  const int* table = cta.table;

  // Copies, by warpgroup 1 alone (it would otherwise wait while warpgroup 0 computes the scores):
  // latent chunk lc (of 64 per row) of rows lr0 + 2j, and rope chunk rc (of 8) of rows rr0 + 16j.
  // A row's swizzle depends on row % 8 only: lr0 + 2j takes four values, rr0 + 16j keeps one, so
  // every destination is one of five bases plus a constant.
  const int ct = tid & 127;
  const int lc = ct & 63, lr0 = ct >> 6;
  const unsigned l_dst0 = (lc >> 3) * WG_TK * 128 + lr0 * 128;
  unsigned l_dst[4];  // by j % 4: row lr0 + 2j has row % 8 = lr0 + 2 (j % 4)
#pragma unroll
  for (int m = 0; m < 4; m++) l_dst[m] = l_dst0 + m * 2 * 128 + (((lc & 7) ^ (lr0 + 2 * m)) << 4);
  const long long l_src = p.a_offset + 2ll * (lr0 * WG_L + lc * 8);
  const RopeCopy rope(p, ct);
  auto load_tile = [&](int i, int block_id) {
    const unsigned char* block = p.pool + (long long)block_id * p.block_bytes;
    const unsigned stage = k_s + (i % WG_STAGES) * WG_TILE_BYTES;
    const int nvalid = tok_end - (tok_begin + i * WG_TK);
    const bool whole = nvalid >= WG_TK;
#pragma unroll
    for (int j = 0; j < WG_TK / 2; j++) {
      const unsigned dst = stage + l_dst[j & 3] + (j >> 2) * 8 * 128;
      const unsigned char* src = block + l_src + 2ll * j * 2 * WG_L;
      if (whole) {
        cp_async16_s(dst, src);
      } else {
        cp_async16_s(dst, src, lr0 + 2 * j < nvalid);
      }
    }
    rope.copy(stage, block, nvalid);
    asm volatile("cp.async.commit_group;\n" ::);
  };

  if (wg == 1 && tiles > 0) load_tile(0, table[0]);
  int next_block = tiles > 1 ? table[1] : 0;

  // Queries, FP32 -> BF16 after multiplying by scale·log2 e (so that the scores come out in the
  // softmax's base-2 units), into Q~'s swizzled blocks while tile 0 is in flight: chunk c of 8
  // columns of row h, c < 64 from q~ and the rest from q_R; 6 chunks' loads issued before any
  // store.
  const float scale2 = p.scale * MLA_LOG2E;
  constexpr int QC = WG_BLOCKS * 8;  // chunks per row
  constexpr int QN = WG_HEADS * QC / WG_THREADS;
  constexpr int QB = 6;
  const bool q_vec = ((((unsigned long long)p.qa) | ((unsigned long long)p.qb)) & 15) == 0;
  for (int j0 = 0; j0 < QN; j0 += QB) {
    float v[QB][8];
#pragma unroll
    for (int j = 0; j < QB; j++) {
      const int idx = tid + (j0 + j) * WG_THREADS;
      const int h = idx / QC, c = idx % QC;
      const float* src = c < 64 ? p.qa + (row0 + h) * WG_L + c * 8
                                : p.qb + (row0 + h) * WG_DR + (c - 64) * 8;
      if (q_vec) {
        const float4 a = ((const float4*)src)[0], b = ((const float4*)src)[1];
        v[j][0] = a.x, v[j][1] = a.y, v[j][2] = a.z, v[j][3] = a.w;
        v[j][4] = b.x, v[j][5] = b.y, v[j][6] = b.z, v[j][7] = b.w;
      } else {
#pragma unroll
        for (int e = 0; e < 8; e++) v[j][e] = src[e];
      }
    }
#pragma unroll
    for (int j = 0; j < QB; j++) {
      const int idx = tid + (j0 + j) * WG_THREADS;
      const int h = idx / QC, c = idx % QC;
      *(uint4*)(smem + WG_Q_OFF + swz128(WG_HEADS, h, c * 8)) =
          make_uint4(pack_bf162(v[j][0] * scale2, v[j][1] * scale2),
                     pack_bf162(v[j][2] * scale2, v[j][3] * scale2),
                     pack_bf162(v[j][4] * scale2, v[j][5] * scale2),
                     pack_bf162(v[j][6] * scale2, v[j][7] * scale2));
    }
  }

  const unsigned long long q_desc0 = wgmma_desc(q_s, 16, 1024);
  const unsigned long long k_desc0 = wgmma_desc(k_s, 16, 1024);
  const unsigned long long p_desc0 = wgmma_desc(p_s, 16, 1024);
  // P·C's B: this warpgroup's four column blocks of stage 0's latent, MN-major
  const unsigned long long v_desc0 = wgmma_desc(k_s + wg * 4 * WG_TK * 128, WG_TK * 128, 1024);
  float m_lo = MLA4J_NEG_INF, m_hi = MLA4J_NEG_INF, l_lo = 0.f, l_hi = 0.f;  // warpgroup 0
  float o[128];
#pragma unroll
  for (int i = 0; i < 128; i++) o[i] = 0.f;
  float s[32];

  for (int i = 0; i < tiles; i++) {
    asm volatile("cp.async.wait_group 0;\n" ::);  // warpgroup 1's copies of tile i
    fence_proxy_async();
    // Tile i (and at i = 0 the queries) visible to both warpgroups; every thread is past the P·C
    // of tile i - 1, so its stage and P may be overwritten.
    __syncthreads();
    if (wg == 1 && i + 1 < tiles) {
      load_tile(i + 1, next_block);
      if (i + 2 < tiles) next_block = table[i + 2];
    }
    const int nvalid = tok_end - (tok_begin + i * WG_TK);

    // Descriptors differ from a base only in the start address (bits 0-13, in 16-byte units), so
    // each stage's and k-step's is the base plus a constant.
    const unsigned stage_desc = (i % WG_STAGES) * (WG_TILE_BYTES >> 4);
    const unsigned long long k_desc = k_desc0 + stage_desc;
    if (wg == 0) {
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < WG_BLOCKS * 4; ks++) {
        const unsigned koff = (ks & 3) * 2;  // k-step inside a 128-byte row, 16-byte units
        wgmma_m64n64k16(s, q_desc0 + (ks >> 2) * (WG_HEADS * 128 >> 4) + koff,
                        k_desc + (ks >> 2) * (WG_TK * 128 >> 4) + koff, ks > 0);
      }
      wgmma_commit();
      wgmma_wait_all();
      wgmma_hold(s);

      // Online softmax in base 2 over the thread's two rows; a row's 64 scores sit in the 4
      // lanes of a quad.
      float mx_lo, mx_hi;
      masked_row_max(s, nvalid, tq, [&](int j, int c) { return s[4 * j + c]; }, mx_lo, mx_hi);
      // the lazy rescale (lazy_max); a warp none of whose rows moved skips O's
      bool up_lo, up_hi;
      const float a_lo = lazy_max(mx_lo, m_lo, up_lo), a_hi = lazy_max(mx_hi, m_hi, up_hi);
      const bool rescale = __any_sync(0xffffffffu, up_lo || up_hi);
      if (tq == 0) {
        s_alpha[r_lo] = a_lo;
        s_alpha[r_lo + 8] = a_hi;
      }
      if (lane == 0) s_rescale[warp4] = rescale;
      if (rescale) rescale_rows(o, a_lo, a_hi);

      // P in two halves of 32 tokens, each multiplied into O[:, 0:256] from registers as soon as
      // it is rounded (the accumulator layout of two n8 chunks is the A fragment of one k-step),
      // so that the second half's exponentials overlap the first half's MMAs.
      const unsigned long long v_desc = v_desc0 + stage_desc;
      float sum_lo = 0.f, sum_hi = 0.f;
      unsigned pk[8][2];  // P as BF16 pairs: chunk j's (row r_lo, row r_lo + 8) values
#pragma unroll
      for (int half = 0; half < 2; half++) {
#pragma unroll
        for (int j = 4 * half; j < 4 * half + 4; j++) {
          // rounded to BF16 before the sum, so that numerator and denominator agree
          pk[j][0] = pack_bf162(exp2_approx(s[4 * j] - m_lo), exp2_approx(s[4 * j + 1] - m_lo));
          pk[j][1] = pack_bf162(exp2_approx(s[4 * j + 2] - m_hi), exp2_approx(s[4 * j + 3] - m_hi));
          *(unsigned*)(smem + WG_P_OFF + swz128(WG_HEADS, r_lo, 8 * j + 2 * tq)) = pk[j][0];
          *(unsigned*)(smem + WG_P_OFF + swz128(WG_HEADS, r_lo + 8, 8 * j + 2 * tq)) = pk[j][1];
        }
        wgmma_fence();
#pragma unroll
        for (int kk = 2 * half; kk < 2 * half + 2; kk++) {
          const unsigned a[4] = {pk[2 * kk][0], pk[2 * kk][1], pk[2 * kk + 1][0],
                                 pk[2 * kk + 1][1]};
          wgmma_m64n256k16_rs_bt(o, a, v_desc + kk * (16 * 128 >> 4));
        }
      }
      fence_proxy_async();
      bar_arrive(WG_BAR_P, WG_THREADS);  // P, alpha and the flags to warpgroup 1
#pragma unroll
      for (int j = 0; j < 8; j++) {
        sum_lo += from_bf16(pk[j][0] & 0xffffu) + from_bf16(pk[j][0] >> 16);
        sum_hi += from_bf16(pk[j][1] & 0xffffu) + from_bf16(pk[j][1] >> 16);
      }
      quad_sum(sum_lo, sum_hi);
      l_lo = l_lo * a_lo + sum_lo;
      l_hi = l_hi * a_hi + sum_hi;
    } else {
      bar_sync(WG_BAR_P, WG_THREADS);
      pc_from_shared<false>(o, s_rescale, s_alpha, warp4, r_lo, p_desc0, v_desc0 + stage_desc);
    }
    wgmma_commit();
    wgmma_wait_all();
    wgmma_hold(o);
  }
  // (no copy is in flight here: the last tile's was waited for at the top of its iteration)

  publish_ml(s_m, s_l, r_lo, m_lo, m_hi, l_lo, l_hi);
  __syncthreads();
  wg_store_o(p, o, s_m, s_l, row0, r_lo, 1.f);
#endif
}

// The roofline's tensor-core ceiling on sm_90a: each warpgroup issues iters rounds of 8
// m64n256k16 BF16 wgmmas (FLOPs = 2·64·256·16 each) on a zeroed shared tile, one commit group
// kept in flight, then writes one float per thread (so the work is live).
#define WG_PEAK_STEPS 8
extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) mla4j_wgmma_peak_bf16(const PeakParams p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ __align__(1024) unsigned char tile[2 * 4 * 16 * 128];  // A [64][16] and B [16][256]
  for (int i = threadIdx.x; i < (int)sizeof(tile) / 16; i += WG_THREADS) {
    ((uint4*)tile)[i] = make_uint4(0u, 0u, 0u, 0u);
  }
  fence_proxy_async();
  __syncthreads();
  const unsigned t = smem_addr(tile);
  const unsigned long long a = wgmma_desc(t, 16, 1024);
  const unsigned long long b = wgmma_desc(t + 4 * 16 * 128, 16 * 128, 1024);
  float d[128];
#pragma unroll
  for (int i = 0; i < 128; i++) d[i] = 0.f;
  wgmma_fence();
  for (long long it = 0; it < p.iters; it++) {
#pragma unroll
    for (int k = 0; k < WG_PEAK_STEPS; k++) wgmma_m64n256k16_bt(d, a, b);
    wgmma_commit();
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
  }
  wgmma_wait_all();
  wgmma_hold(d);
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < 128; i++) sum += d[i];
  p.out[(long long)blockIdx.x * blockDim.x + threadIdx.x] = sum;
#endif
}
