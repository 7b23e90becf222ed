// Absorbed MLA decode on tensor cores (v3; quantized latent v5), device-resident fast path.
// Same parameter struct (PagedAttnParams) and split-state layout as attention.cu, whose merge
// kernel finishes split runs. Instances: mla_mma.cu (BF16 latent), mla_mma_quant.cu (INT8/FP8).
//
// CTA = (key range split, slab of HS = 16·MT heads, query token), 8 warps. Per tile of TK cached
// tokens, staged by 16-byte cp.async two tiles deep, the tile [TK][L (+ shared rope d_r)] is read
// once from memory and used by both products, with mma.sync m16n8k16 (BF16 in, FP32 out):
//   S[HS][TK]  = Q~[HS][L]·C[TK][L]ᵀ + q_R·k_Rᵀ           warps over (head tile, 8-32 tokens,
//                                                          k-range) units, partials summed by the
//                                                          softmax
//   O[HS][L]  += P[HS][TK]·C[TK][L]                       each warp owns L/8 columns of O, FP32
//                                                          accumulators in registers
// The rope keys join the score MMA as extra k-steps over their own stage: per-head keys (MHA2MLA,
// one d_r slice per kv head) with q_R staged block-diagonally, row h holding q_R[h] at its kv
// head's columns of the slab's rope span and zeros elsewhere, so that each m16 head tile multiplies
// only the span of its own kv heads; DeepSeek's shared key as a span of d_r columns that every
// row uses. (v2 ran per-head keys on CUDA cores inside the softmax: half of the instructions.)
// Q and P are rounded to BF16 for the MMA: this kernel's error is BF16-like (see NOTES.md); the
// host API keeps the FP32-exact kernel.
//
// Quantized latent (Q = INT8, INT4 or FP8 E4M3 codes, one BF16 scale per token and group of G
// columns; rope keys BF16): the codes of a tile are copied as stored into the first L bytes (INT4:
// L/2, two codes per byte) of the tile's FP16 stage rows, each row by the warp that, once its own
// copies land, dequantizes it in place:
//   C'[t][c] = code[t][c] · s[t][c / G] · 2^-E_t   (FP16; E_t the exponent of the token's largest
//                                                   scale, so every factor lies in (0, 2))
// Both products then run on C' with FP16 operands (INT8, INT4 and E4M3 codes are exact in FP16,
// the product rounds once). 2^E_t multiplies the token's latent score in FP32 before the rope
// k-steps join it; P leaves the softmax times 2^(E_t - E), E the largest E_t seen so far, and O
// is kept in units of 2^E (rescaled with alpha when E grows). Q~ rows are scaled by a power of two
// 2^-E_r into [2^14, 2^15) before rounding, and the softmax multiplies each score back by 2^E_r.
// FP16's range never binds; a token loses precision only in groups below 2^-14 of its largest
// scale, or when its largest scale is below 2^-14 of E's (its probability is then scaled into
// subnormals).
// Quantized rope keys too (RQ, mla_mma_quant_rope.cu): their codes and scales are staged in the
// tile's rope rows by the same warps and dequantized with the latent's, E_t then the exponent of
// the token's largest latent or rope scale; q_R is FP16 under a common E_r with Q~, and 2^E_t
// multiplies the whole score (latent and rope k-steps) instead of the latent part alone.
#ifndef MLA4J_MLA_MMA_H
#define MLA4J_MLA_MMA_H
#include "mla4j_cluster.h"
#include "mla4j_device.h"
#include "mla4j_mma.h"
#include "mla4j_mma_quant.h"

#define MLA_WARPS 8
#define MLA_THREADS (MLA_WARPS * 32)
// Elements of padding per shared row: shifts consecutive rows by 16 bytes, so the 8 rows an
// ldmatrix phase reads fall in different banks.
#define MLA_PAD 8
#define MLA_STAGES 2
#define MLA_CLUSTER_MAX_WORK 1024  // the largest MT·LW·TK with the cluster combine

// Shared-memory carve-up, computed the same way by KernelChoice.mlaSharedBytes in Java.
struct MlaSmem {
  bf16_t* q;      // [HS][qs]        Q~
  bf16_t* qr;     // [HS][rq]        q_R over the slab's rope span (block-diagonal when per head)
  bf16_t* tile;   // [STAGES][TK][qs] C
  bf16_t* rope;   // [STAGES][TK][rq] rope keys of the slab's span, zero past it
  float* s;       // [KPARTS][HS][TK + 4] partial scores (base 2), one slice per k-range
  bf16_t* pr;     // [HS][TK + 8]    probabilities
  float* m;       // [HS]            running maximum, base 2
  float* l;       // [HS]
  float* alpha;   // [HS]
  // quantized latent only, after alpha (the BF16 kernel's carve-up ends there); a token's codes
  // and its L / G BF16 scales are staged in its tile row, codes at byte 0, scales at byte L
  float* rowpow;  // [HS] 2^E_r
  int* texp;      // [TK] E_t of the tile's tokens
};

// d += a·b with FP16 or BF16 operands.
template <bool F16>
__device__ __forceinline__ void mma(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  if (F16) {
    mma_f16(d, a, b0, b1);
  } else {
    mma_bf16(d, a, b0, b1);
  }
}

// Score k-steps [k0, k1) of one unit of NT n8 token tiles (1, 2 or 4). With 1 or 2, into two
// accumulator chains (even and odd k-steps, so that consecutive MMAs do not wait on each other);
// with 4 the tiles are four chains already, and one set of accumulators saves 16 registers.
// acc is [CH][NA][4]; NA stays 2 for NT = 1, the shape it had before 32-token units, which keeps
// those instances' PTX unchanged. qa: this lane's ldmatrix address of the A (query) tile at k-step 0;
// kb: of the B (key) tile's first 16 tokens, the next 16 at kb + pair.
template <int NT, bool F16, int CH, int NA>
__device__ __forceinline__ void mla_score_steps(float (&acc)[CH][NA][4], const bf16_t* qa,
                                                const bf16_t* kb, int pair, int k0, int k1) {
  auto step = [&](float (&c)[NA][4], int ks) {
    unsigned a[4];
    ldsm_x4(a, qa + ks * 16);
    if constexpr (NT == 1) {
      unsigned b[2];
      ldsm_x2(b, kb + ks * 16);
      mma<F16>(c[0], a, b[0], b[1]);
    } else {
#pragma unroll
      for (int j = 0; j < NT / 2; j++) {
        unsigned b[4];
        ldsm_x4(b, kb + j * pair + ks * 16);
        mma<F16>(c[2 * j], a, b[0], b[1]);
        mma<F16>(c[2 * j + 1], a, b[2], b[3]);
      }
    }
  };
  int ks = k0;
  if constexpr (CH == 2) {
    for (; ks + 1 < k1; ks += 2) {
      step(acc[0], ks);
      step(acc[1], ks + 1);
    }
    if (ks < k1) step(acc[0], ks);
  } else {
    for (; ks < k1; ks++) step(acc[0], ks);
  }
}

// Stores this warp's O fragments (its L / 8 columns from wcol0, every head row r of the slab) as
// row-major rows, rows[r·stride + column], each row times factor(r): the epilogue's output and
// the cluster combine's shared-memory copy.
template <int MT, int LW, typename Factor>
__device__ __forceinline__ void mla_store_o(const float (&o)[MT][LW][4], float* rows, int stride,
                                            int wcol0, int lane, Factor factor) {
  const int g = lane >> 2, tq = lane & 3;
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int r = m * 16 + g + 8 * half;
      const float f = factor(r);
#pragma unroll
      for (int n = 0; n < LW; n++) {
        *(float2*)(rows + r * stride + wcol0 + n * 8 + 2 * tq) =
            make_float2(o[m][n][2 * half] * f, o[m][n][2 * half + 1] * f);
      }
    }
}

#if MLA4J_HAS_CLUSTERS
// The C key-range splits of a cluster (consecutive blockIdx.x) combine their partial states on
// chip, so that the merge kernel reads splits / C of them and the CTAs write C times fewer bytes.
// First each CTA's O, rescaled to the cluster's maximum, goes to its own shared memory (Q~, the
// tiles and the scores are dead by now; the host checks that [HS][L + 8] floats fit below sm.m),
// and sm.m / sm.l become the cluster's maximum and sum.
template <int MT, int LW>
__device__ void mla_cluster_stage(const float (&o)[MT][LW][4], const MlaSmem& sm, unsigned csize) {
  constexpr int HS = 16 * MT;
  constexpr int L = 64 * LW;
  constexpr int os = L + 8;  // a warp's float2 stores of 4 rows x 8 columns hit 32 banks
  float* const obuf = (float*)sm.q;  // [HS][os]
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  cluster_sync();  // every CTA's m and l are final
  float rm = MLA4J_NEG_INF, rl = 0.f;
  if (tid < HS) {
    const unsigned m_addr = smem_addr(sm.m + tid), l_addr = smem_addr(sm.l + tid);
    float mc[8], lc[8];  // each CTA's m and l read once (csize <= 8; constant indices: registers)
#pragma unroll
    for (unsigned c = 0; c < 8; c++) {
      if (c < csize) {
        mc[c] = cluster_load(cluster_map(m_addr, c));
        lc[c] = cluster_load(cluster_map(l_addr, c));
        rm = fmaxf(rm, mc[c]);
      }
    }
#pragma unroll
    for (unsigned c = 0; c < 8; c++) {
      if (c < csize && mc[c] != MLA4J_NEG_INF) rl += lc[c] * exp2_approx(mc[c] - rm);
    }
    sm.alpha[tid] = sm.m[tid] == MLA4J_NEG_INF ? 0.f : exp2_approx(sm.m[tid] - rm);
  }
  __syncthreads();
  // as the plain epilogue's stores (mla_mma), into shared memory, each row times its factor
  mla_store_o<MT, LW>(o, obuf, os, (tid >> 5) * (L / MLA_WARPS), lane,
                      [&](int r) { return sm.alpha[r]; });
  cluster_sync();  // every CTA's rescaled O is visible; nobody reads m or l remotely any more
  if (tid < HS) {
    sm.m[tid] = rm;
    sm.l[tid] = rl;
  }
  __syncthreads();
}

// Then CTA j adds columns [j·L/C, (j+1)·L/C) of all C CTAs' O through DSMEM and writes them as
// one partial state, or as the normalized output when the cluster holds every split of its row.
template <int HS, int L, int C>
__device__ void mla_cluster_sum(const PagedAttnParams& p, const MlaSmem& sm, long long row0) {
  constexpr int os = L + 8;
  constexpr int W = L / C;  // columns this CTA adds up
  constexpr int V = W / 4;
  const int tid = threadIdx.x;
  const unsigned rank = cluster_rank();
  const bool final_out = p.splits == C;
  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  const long long base = final_out ? row0 : (long long)(blockIdx.x / C) * rows + row0;
  float* const dst = final_out ? p.out : p.part_acc;
  unsigned remote[C];
#pragma unroll
  for (int c = 0; c < C; c++) remote[c] = cluster_map(smem_addr(sm.q), c);
#pragma unroll 2
  for (int it = tid; it < HS * V; it += MLA_THREADS) {
    const int r = it / V;
    const int col = rank * W + (it % V) * 4;
    const unsigned off = (unsigned)(r * os + col) * 4u;
    float4 v[C];
#pragma unroll
    for (int c = 0; c < C; c++) v[c] = cluster_load4(remote[c] + off);
    float4 s = v[0];
#pragma unroll
    for (int c = 1; c < C; c++) {
      s.x += v[c].x;
      s.y += v[c].y;
      s.z += v[c].z;
      s.w += v[c].w;
    }
    float* const at = dst + (base + r) * L + col;
    if (final_out) {  // the caller's output is only known to be 8-byte aligned
      const float l = sm.l[r];
      const float inv = l > 0.f ? 1.f / l : 0.f;
      *(float2*)at = make_float2(s.x * inv, s.y * inv);
      *(float2*)(at + 2) = make_float2(s.z * inv, s.w * inv);
    } else {
      *(float4*)at = s;  // part_acc: a cuMemAlloc buffer
    }
  }
  if (!final_out && rank == 0 && tid < HS) {
    p.part_ml[(base + tid) * 2] = sm.m[tid] * MLA_LN2;  // the merge works in base e
    p.part_ml[(base + tid) * 2 + 1] = sm.l[tid];
  }
  cluster_sync();  // no CTA exits while another still reads its shared memory
}
#endif

// Q: MLA4J_Q_NONE (BF16 latent), MLA4J_Q_INT8, MLA4J_Q_INT4 or MLA4J_Q_FP8. RQ (quantized latent
// only): the rope keys are codes of the same format too, one segment per kv head (or one shared
// key). R8 (with RQ): segments of d_r = 8 codes (models of d_h 64), so each 16-code chunk holds
// two kv heads' segments with a scale each; the host asks every slab's span to start and end on a
// chunk.
template <int MT, int LW, int TK, int Q, bool RQ = false, bool R8 = false>
__device__ void mla_mma(const PagedAttnParams& p) {
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  constexpr bool QZ = Q != MLA4J_Q_NONE;
  static_assert(QZ || !RQ, "quantized rope keys need a quantized latent");
  static_assert(RQ || !R8, "8-code rope segments are quantized rope keys");
  // Quantized, L >= 1024: a tile's rope keys leave with its codes, at the top of the iteration
  // before, instead of after that iteration's scores: Llama-2-7B d_kv 32 at batch 64 ran 4% faster
  // (3338 -> 3208-3229 us, H100); at L = 512 (d_kv 16) batch 64 ran 2% slower, so not there.
  // Quantized, L = 2048: the rope keys leave two tiles ahead instead, right after the barrier that
  // ends the scores which last read their stage (R2): d_kv 64 batch 64 ran 1-3% faster (INT8
  // 7037-7076 -> 6972 us, FP8 7167 -> 6971, H100); for all L, d_kv 32 FP8 ran 3% slower and d_kv 16
  // INT8 2% slower (16-head slabs of 32-token tiles then). On d_kv 32's whole slab of 16-token tiles
  // (m2_l16_t16), where the rope keys are half of an INT8 tile's bytes, R2 wins for INT8 alone:
  // batch 64, 32K 2670 -> 2597 us, batch 16, 128K 2663 -> 2590; FP8 unchanged, INT4 2% slower
  // (H100).
  // Quantized rope keys leave with the codes (part 0) instead: their warps dequantize them too.
  constexpr bool WHOLE_D32 = MT == 2 && LW == 16 && TK == 16;  // d_kv 32's whole slab (stop 37)
  constexpr bool R2 = QZ && !RQ && (LW >= 32 || (Q == MLA4J_Q_INT8 && WHOLE_D32));
  constexpr bool RW = QZ && !RQ && LW >= 16 && !R2;
  constexpr int HS = 16 * MT;
  constexpr int L = 64 * LW;
  constexpr int WCOLS = L / MLA_WARPS;     // O columns per warp = 8·LW
  constexpr int RPW = HS / MLA_WARPS;      // softmax rows per warp
  constexpr int LC = L / 8;                // 16-byte chunks per BF16 latent row: 64, 128 or 256
  constexpr int LROWS = MLA_THREADS / LC;  // latent rows one pass of the CTA copies
  extern __shared__ __align__(16) unsigned char smem_raw[];
  // Rope columns: one d_r slice per kv head (q_R block-diagonal), or DeepSeek's shared key
  // (b_kv_stride 0: every head's q_R at the same columns). Both are staged apart from the latent,
  // so that the latent rows have a compile-time stride.
  const int drh = p.b_width;
  constexpr int qs = L + MLA_PAD;
  const int span_max = drh == 0 ? 0 : ((HS - 1) / p.group + 1) * p.b_kv_stride + drh;
  const int rw = (span_max + 15) & ~15;
  const int rq = rw == 0 ? 0 : rw + MLA_PAD;
  constexpr int ss = TK + 4;
  // Score work: units of (m16 head tile, nw tokens), each split into kparts k-ranges so that all
  // 8 warps have work; partial sums go to separate slices and are added by the softmax (plain
  // stores: shared-memory FP32 atomics are a compare-and-swap loop).
  // Two head tiles over 32-token tiles: units of all 32 tokens, so that each warp reads its query
  // fragments once per tile for 4 n8 token tiles instead of twice for 2 (kparts 4, +9 KB of
  // partial scores). Llama-2-7B d_kv 16 at batch 64, 32K on the H100: BF16 1485 -> 1471-1474 us,
  // INT8/FP8 within 1%. Not elsewhere: the larger carve-up would change which slab other shapes
  // get, unmeasured.
  constexpr int nw = MT == 2 && TK == 32 ? 32 : (MT * TK >= 32 ? 16 : 8);
  constexpr int NT = nw / 8;
  constexpr int CH = NT >= 4 ? 1 : 2;  // accumulator chains (mla_score_steps)
  constexpr int units = MT * TK / nw;
  constexpr int kparts = units >= MLA_WARPS ? 1 : MLA_WARPS / units;
  constexpr int ps = TK + MLA_PAD;
  // The lazy maximum and the skipped rescale of O (mla_lazy_max) only where they measured faster:
  // m2_l16_t16. H100, batch 64, 32K, Llama-2-7B d_kv 32, alternated twice in one call, with R2's
  // INT8 change: BF16 2373 -> 2357 us, INT8 2646 -> 2521-2530, FP8 2600-2603 -> 2495-2516, INT4
  // 2637-2661 -> 2516-2538. Elsewhere they cost as much as they saved or more: m1_l32_t16 (d_kv
  // 64) BF16 5558-5599 -> 5696-5698 us, m2_l8_t32 (d_kv 16) FP8 1412-1414 -> 1463 with the lazy
  // maximum alone (native/NOTES.md, stops 36-37).
  constexpr bool LAZY = WHOLE_D32;

  MlaSmem sm;
  sm.q = (bf16_t*)smem_raw;
  sm.qr = sm.q + HS * qs;
  sm.tile = sm.qr + HS * rq;
  sm.rope = sm.tile + MLA_STAGES * TK * qs;
  sm.s = (float*)(sm.rope + MLA_STAGES * TK * rq);
  sm.pr = (bf16_t*)(sm.s + kparts * HS * ss);
  sm.m = (float*)(sm.pr + HS * ps);
  sm.l = sm.m + HS;
  sm.alpha = sm.l + HS;
  const int ng = QZ ? L / p.quant_group : 0;  // scales per token
  sm.rowpow = sm.alpha + HS;
  sm.texp = (int*)(sm.rowpow + HS);

  const int split = blockIdx.x;
  const int h0 = blockIdx.y * HS;
  const int token_row = blockIdx.z;
  const int seq = token_row / p.tokens;
  const int t = token_row - seq * p.tokens;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int kv0 = h0 / p.group;
  const int span = drh == 0 ? 0 : ((h0 + HS - 1) / p.group - kv0) * p.b_kv_stride + drh;

  // Quantized rope keys: the slab's span of codes (segments of d_r = b_seg bytes from the slab's
  // first kv head, or the one shared key) and its rq_nsc scales (gps per segment), staged at
  // byte 0 and at byte span of each rope stage row. The scales leave as 4-byte words from the
  // even index at or below the row's first (RopeRows: shift), the last word cut to 2 bytes where
  // the count is odd, so no copy reads past the row's scales.
  constexpr int RCPL = 2;  // rope chunks per lane: spans of up to 1024 codes (checked on the host)
  const int rq_gps = RQ ? p.b_scale_row / (p.b_row / p.b_seg) : 0;
  const int rq_first = RQ ? (p.b_kv_stride == 0 ? 0 : kv0) * rq_gps : 0;  // the slab's first scale
  const int rq_nsc = RQ ? span / p.b_seg * rq_gps : 0;
  RopeRows<RCPL> rope_rows;
  rope_rows.rq = rq;
  rope_rows.span = span;
  rope_rows.rowpar = p.b_scale_row & 1;
  constexpr int CBR = Q == MLA4J_Q_INT4 ? 2 : 1;  // rope codes per byte
  if constexpr (R8) {
    // chunk k is columns c..c+15: segments c/8 and c/8 + 1, one group each (G >= 16 > d_r); an
    // INT4 chunk's two 4-byte words are the two groups, stored in column order
#pragma unroll
    for (int k = 0; k < RCPL; k++) {
      const int c = (lane + 32 * k) * 16;
      rope_rows.sidx[k] = c < span ? c / 8 * rq_gps : -1;
      rope_rows.sidx2[k] = rope_rows.sidx[k] + rq_gps;
      rope_rows.first[k] = 2 * c;
    }
  } else if constexpr (RQ && Q == MLA4J_Q_INT4) {
    // INT4: lane chunk k is 8 code bytes (16 codes) inside one group of mr = min(G, d_r) columns
    // (the host asks d_r % mr == 0, mr % 16 == 0): its low nibbles are the group's columns
    // j..j+7, its high ones j + mr/2 ..; lanes with bit 2 set store the high run first (as the
    // latent's, MlqLaneChunks)
    const int mr = min(p.quant_group, p.b_seg), rhalf = mr / 2, seg_bytes = p.b_seg / 2;
    const bool swap = (lane & 4) != 0;
    rope_rows.shift = swap ? 4 : 0;
    rope_rows.delta = swap ? -2 * rhalf : 2 * rhalf;
#pragma unroll
    for (int k = 0; k < RCPL; k++) {
      const int b = (lane + 32 * k) * 8;
      const int sg = b / seg_bytes;
      int gi;
      rope_rows.first[k] =
          2 * sg * p.b_seg + mlq_int4_first_run(b - sg * seg_bytes, mr, swap, gi);
      rope_rows.sidx[k] = b < span / 2 ? sg * rq_gps + gi : -1;
    }
  } else {
#pragma unroll
    for (int k = 0; k < RCPL; k++) {
      const int c = (lane + 32 * k) * 16;
      rope_rows.sidx[k] =
          RQ && c < span ? c / p.b_seg * rq_gps + (c % p.b_seg) / p.quant_group : -1;
    }
  }
  if (RQ && span > 32 * RCPL * 16) __trap();
  // the copies' per-thread bases: row warp's codes at lane's chunk, its first scale, its stage row.
  // INT4 copies 8 bytes a chunk: its code rows (n_kv·d_r/2 bytes) and a slab's first kv head
  // (kv0·d_r/2) are only 8-byte aligned when d_r is 16 (16-byte copies faulted there, H100)
  constexpr int RCB = Q == MLA4J_Q_INT4 ? 8 : 16;  // rope code bytes per lane chunk
  const long long rq_src0 =
      RQ ? p.b_offset + (long long)(p.b_kv_stride == 0 ? 0 : kv0) * (p.b_seg / CBR)
               + (long long)warp * p.b_code_row + RCB * lane
         : 0;
  const int rq_first0 = RQ ? warp * p.b_scale_row + rq_first : 0;
  const unsigned rq_dst0 = RQ ? smem_addr(sm.rope + warp * rq) + RCB * lane : 0;
  const unsigned rq_dst_rows = 2u * MLA_WARPS * rq;
  bool rq_chunk_ok[RCPL];
#pragma unroll
  for (int k = 0; k < RCPL; k++) rq_chunk_ok[k] = RQ && (lane + 32 * k) * RCB < span / CBR;

  const long long row0 = (long long)token_row * p.heads + h0;
  const int key_end = p.first_pos[seq] + t + 1;
  const KeyRange keys = split_keys(p, split, key_end);
  const int tok_begin = keys.begin, tok_end = keys.end;
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  const int tiles = tok_end > tok_begin ? (tok_end - tok_begin + TK - 1) / TK : 0;

  // Copies of tile i into stage i % 2; rows past tok_end are zero-filled, so that no stale value,
  // NaN included, meets a zero probability in the second product. A tile lies inside one 64-token
  // block (TK divides 64), so every row's source address is inside the block.
  // Latent: rows of exactly L elements in the cache (a_row == L, checked by the host) and qs in
  // shared memory, so a thread's copies of a tile (chunk lc0 of rows lr0 + j·LROWS) are one base
  // address plus compile-time offsets on both sides; whole tiles skip the row predicate.
  // Rope (the slab's span of kv heads, or the shared key): when a whole number of rows fits one
  // pass, each thread keeps a fixed 16-byte column and steps rows by pointer increments; otherwise
  // it walks its (row, chunk) cells by adding MLA_THREADS cells at a time as (dt rows, dc chunks)
  // with a carry: no integer division per copy.
  const int lr0 = tid / LC, lc0 = (tid % LC) * 8;
  const long long a_thread = p.a_offset + 2ll * (lr0 * L + lc0);
  const unsigned a_dst_thread = smem_addr(sm.tile + lr0 * qs + lc0);
  const int sc_n = ng / 4;  // a quantized row's 8-byte scale chunks, staged at its byte L
  const int bcols = (span + 15) & ~15;  // rope columns staged per row
  const int bvalid = span;              // of which read from the cache
  const int bc = bcols / 8;
  const int bc_dt = bc > 0 ? MLA_THREADS / bc : 0, bc_dc = bc > 0 ? MLA_THREADS - bc_dt * bc : 0;
  const int bc_t0 = bc > 0 ? tid / bc : TK, bc_c0 = bc > 0 ? tid - bc_t0 * bc : 0;
  const int b_srow = rq;
  bf16_t* const b_dst0 = sm.rope;
  const int b_stage = TK * b_srow;
  const int b_col0 = kv0 * p.b_kv_stride;
  // the fixed-column path: this thread's column, or column 0 of its rows when past the span
  const bool b_col_ok = bc_c0 * 8 < bvalid;
  const long long b_thread =
      p.b_offset + 2ll * (bc_t0 * p.b_row + b_col0 + (b_col_ok ? bc_c0 * 8 : 0));
  const long long b_src_rows = 2ll * bc_dt * p.b_row;
  const unsigned b_dst_thread = smem_addr(b_dst0 + bc_t0 * b_srow + bc_c0 * 8);
  const unsigned b_dst_rows = 2u * bc_dt * b_srow;

  // per-thread steps of the rope walk, in elements of the cache row and of the shared row
  const int b_src_step = bc_dt * p.b_row + bc_dc * 8, b_dst_step = bc_dt * b_srow + bc_dc * 8;
  const int b_src_carry = p.b_row - bc * 8, b_dst_carry = b_srow - bc * 8;
  const int b_src0 = bc_t0 * p.b_row + bc_c0 * 8, b_dsto0 = bc_t0 * b_srow + bc_c0 * 8;

  // A tile's copies leave in two commit groups: part 0 (the first half of this thread's latent
  // rows) at the top of the iteration before, part 1 (the other half and the rope keys) after
  // that iteration's score products, so that the load/store queue drains while the warps compute
  // instead of holding all of them at the top of the loop. (Quantized: part 0 is all the codes and
  // scales, issued after the dequantization barrier; part 1 goes with it where RW is set, and two
  // tiles ahead, after the score barrier, where R2 is.)
  auto load_tile = [&](int i, int block_id, int part) {
    const int tok0 = tok_begin + i * TK;
    const unsigned char* block = p.pool + (long long)block_id * p.block_bytes;
    const int slot0 = tok0 % MLA4J_BLOCK_TOKENS;
    const int nvalid = tok_end - tok0;
    if constexpr (!QZ) {
      const unsigned char* src = block + a_thread + 2ll * slot0 * L;
      const unsigned dst = a_dst_thread + (i % MLA_STAGES) * (2 * TK * qs);
      cp_async_rows<TK / LROWS, LROWS, 2 * LROWS * qs, 2 * LROWS * L>(dst, src, part, lr0, nvalid,
                                                                    nvalid >= TK);
    } else if (part == 0) {
      // Quantized: all of a tile's codes and scales in part 0, each row by the warp that will
      // dequantize it (rows warp + 8·j; lanes: 16-byte chunks lane + 32·k, 8-byte scale chunks),
      // so that the warp needs only its own copies before it dequantizes.
      const unsigned stage = smem_addr(sm.tile + (i % MLA_STAGES) * TK * qs);
#pragma unroll
      for (int j = 0; j < TK / MLA_WARPS; j++) {
        const int row = warp + j * MLA_WARPS;
        const bool ok = row < nvalid;
        const long long src_row = ok ? slot0 + row : 0;
        const unsigned dst = stage + 2 * row * qs;
        constexpr int CB = MlqRow<Q, L>::bytes;  // code bytes per row (INT4: L/2)
        const unsigned char* codes = block + p.a_offset + src_row * CB;
#pragma unroll
        for (int k = 0; k < (CB + 511) / 512; k++) {
          if (CB >= 512 || 16 * lane < CB) {  // INT4 at L = 512: 16 chunks, lanes 0-15
            cp_async16_s(dst + (lane + 32 * k) * 16, codes + (lane + 32 * k) * 16, ok);
          }
        }
        if (lane < sc_n) {
          asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst + L + 8 * lane),
                       "l"(block + p.a_scales + 2 * src_row * p.a_scale_row + 8 * lane),
                       "r"(ok ? 8 : 0));
        }
        if constexpr (RQ) {  // the row's rope codes and scales, by the same warp
          // per-thread bases (rq_*) plus a multiple of the row: no address is rebuilt per row
          const unsigned rdst = rq_dst0 + (i % MLA_STAGES) * (2u * TK * rq) + j * rq_dst_rows;
          const unsigned char* rcodes =
              block + rq_src0 + (long long)(slot0 + j * MLA_WARPS) * p.b_code_row;
#pragma unroll
          for (int k = 0; k < RCPL; k++) {
            if constexpr (RCB == 8) {
              if (rq_chunk_ok[k]) {
                asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(rdst + 256 * k),
                             "l"(rcodes + 256 * k), "r"(ok ? 8 : 0));
              }
            } else if (rq_chunk_ok[k]) {
              cp_async16_s(rdst + 512 * k, rcodes + 512 * k, ok);
            }
          }
          const int first = rq_first0 + (slot0 + j * MLA_WARPS) * p.b_scale_row;  // RopeRows' shift
          const int total = (first & 1) + rq_nsc;
          const unsigned char* rsc = block + p.b_scales + 2 * (first & ~1) + 4 * lane;
          const unsigned sdst = rdst - RCB * lane + span + 4 * lane;
#pragma unroll
          for (int k = 0; k < 2; k++) {  // rq_nsc + 1 <= 2·64 scales: two words per lane at most
            const int w = lane + 32 * k;
            if (2 * w < total) {
              asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(sdst + 128 * k),
                           "l"(rsc + 128 * k), "r"(ok ? (2 * w + 1 < total ? 4 : 2) : 0));
            }
          }
        }
      }
    }
    if (part == 0) {
      asm volatile("cp.async.commit_group;\n" ::);
      return;
    }
    if constexpr (RQ) return;  // went with part 0
    if (bc_dc == 0) {  // a whole number of rope rows per pass: fixed column, rows step by bc_dt
      const unsigned char* src = block + b_thread + 2ll * slot0 * p.b_row;
      unsigned dst = b_dst_thread + (i % MLA_STAGES) * (2u * b_stage);
#pragma unroll 4
      for (int tt = bc_t0; tt < TK; tt += bc_dt) {
        cp_async16_s(dst, src, b_col_ok && tt < nvalid);
        src += b_src_rows;
        dst += b_dst_rows;
      }
      asm volatile("cp.async.commit_group;\n" ::);
      return;
    }
    const bf16_t* b = (const bf16_t*)(block + p.b_offset) + slot0 * p.b_row + b_col0;
    bf16_t* bd = b_dst0 + (i % MLA_STAGES) * b_stage;
    int src = b_src0, dsto = b_dsto0;
    for (int tt = bc_t0, cc = bc_c0; tt < TK;) {
      const bool ok = tt < nvalid && cc * 8 < bvalid;
      cp_async16(bd + dsto, b + (ok ? src : 0), ok);
      tt += bc_dt;
      cc += bc_dc;
      src += b_src_step;
      dsto += b_dst_step;
      if (cc >= bc) {
        cc -= bc;
        tt++;
        src += b_src_carry;
        dsto += b_dst_carry;
      }
    }
    asm volatile("cp.async.commit_group;\n" ::);
  };
  // Block id of tile i, read one tile ahead of its copies so that the load's latency is hidden.
  auto tile_block = [&](int i) { return table[(tok_begin + i * TK) / MLA4J_BLOCK_TOKENS]; };

  float o[MT][LW][4];
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int n = 0; n < LW; n++)
#pragma unroll
      for (int c = 0; c < 4; c++) o[m][n][c] = 0.f;

  const int g = lane >> 2;  // accumulator row inside an m16 tile (and +8)
  const int tq = lane & 3;  // accumulator column pair
  const int wcol0 = warp * WCOLS;
  constexpr int kl = L / 16;  // k-steps over the latent columns
  const int kp = units >= MLA_WARPS ? 0 : warp / units;
  const float scale2 = p.scale * MLA_LOG2E;

  // Rope k-steps of each m16 head tile.
  int rope_k0[MT], rope_kn[MT];
#pragma unroll
  for (int m = 0; m < MT; m++) mla_rope_steps(p, h0, kv0, m, drh, 0, rope_k0[m], rope_kn[m]);

  if (tiles > 0) {
    load_tile(0, tile_block(0), 0);
    load_tile(0, tile_block(0), 1);
  }
  int next_block = tiles > 1 ? tile_block(1) : 0;
  // R2: tile j's rope keys in a commit group of their own, an empty one past the last tile, so
  // that the newest group is always the rope keys of the tile after the current one
  auto rope_ahead = [&](int j, int block_id) {
    if (j < tiles) {
      load_tile(j, block_id, 1);
    } else {
      asm volatile("cp.async.commit_group;\n" ::);
    }
  };
  if (R2) rope_ahead(1, next_block);

  // The queries are staged while tile 0's copies are in flight.
  if constexpr (!QZ) {
    // Queries, FP32 -> BF16. Each thread issues QB float4 loads before converting any: a one-by-one
    // loop was a chain of global-load latencies, most of a batch-1 split's time.
    constexpr int QV = HS * L / 4 / MLA_THREADS;  // float4 of Q~ per thread
    constexpr int QB = QV < 8 ? QV : 8;
    if ((((unsigned long long)p.qa) & 15) == 0) {
      const float4* qa4 = (const float4*)(p.qa + row0 * L);
      for (int j0 = 0; j0 < QV; j0 += QB) {
        float4 v[QB];
  #pragma unroll
        for (int j = 0; j < QB; j++) v[j] = qa4[tid + (j0 + j) * MLA_THREADS];
  #pragma unroll
        for (int j = 0; j < QB; j++) {
          const int idx = tid + (j0 + j) * MLA_THREADS;
          const int r = idx / (L / 4), c = (idx % (L / 4)) * 4;
          uint2 b;
          b.x = (unsigned)to_bf16_cvt(v[j].x) | ((unsigned)to_bf16_cvt(v[j].y) << 16);
          b.y = (unsigned)to_bf16_cvt(v[j].z) | ((unsigned)to_bf16_cvt(v[j].w) << 16);
          *(uint2*)(sm.q + r * qs + c) = b;
        }
      }
    } else {
      for (int i = tid; i < HS * L; i += MLA_THREADS) {
        sm.q[(i / L) * qs + i % L] = to_bf16(p.qa[row0 * L + i]);
      }
    }
    // q_R over the rope span (block-diagonal for per-head keys), 8 columns (one 16-byte store) per
    // step.
    for (int i = tid; i < HS * rw / 8; i += MLA_THREADS) {
      const int r = i / (rw / 8);
      const int c0 = (i - r * (rw / 8)) * 8;
      const int j0 = c0 - ((h0 + r) / p.group - kv0) * p.b_kv_stride;
      unsigned w[4];
  #pragma unroll
      for (int e = 0; e < 8; e += 2) {
        const int j = j0 + e;
        const unsigned lo = j >= 0 && j < drh ? to_bf16(p.qb[(row0 + r) * drh + j]) : 0u;
        const unsigned hi = j + 1 >= 0 && j + 1 < drh ? to_bf16(p.qb[(row0 + r) * drh + j + 1]) : 0u;
        w[e / 2] = lo | (hi << 16);
      }
      *(uint4*)(sm.qr + r * rq + c0) = make_uint4(w[0], w[1], w[2], w[3]);
    }
  } else {
    // Q~ rows scaled by 2^-E_r (max |Q~_r|·2^-E_r in [2^14, 2^15)), FP16, and q_R by the same
    // factor, BF16, block-diagonal as above: one warp per row. RQ: E_r over Q~ and q_R, and q_R
    // FP16, since the rope keys are then FP16 in the latent's units.
    for (int r = warp; r < HS; r += MLA_WARPS) {
      const float* qa = p.qa + (row0 + r) * L;
      const bool vec = (((unsigned long long)qa) & 15) == 0;
      float amax = 0.f;
      if (vec) {
        for (int c = lane * 4; c < L; c += 128) {
          const float4 v = *(const float4*)(qa + c);
          amax = fmaxf(amax, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
        }
      } else {
        for (int c = lane; c < L; c += 32) amax = fmaxf(amax, fabsf(qa[c]));
      }
      if constexpr (RQ) {  // q_R is FP16 too, in the same units
        for (int c = lane; c < drh; c += 32) amax = fmaxf(amax, fabsf(p.qb[(row0 + r) * drh + c]));
      }
      for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
      const int e = amax > 0.f ? min(max(((__float_as_int(amax) >> 23) & 0xff) - 127 - 14, -100), 100) : 0;
      const float down = mlq_pow2(-e);
      if (vec) {
        for (int c = lane * 4; c < L; c += 128) {
          const float4 v = *(const float4*)(qa + c);
          *(uint2*)(sm.q + r * qs + c) =
              make_uint2(pack_half2(v.x * down, v.y * down), pack_half2(v.z * down, v.w * down));
        }
      } else {
        for (int c = lane; c < L; c += 32) sm.q[r * qs + c] = to_f16(qa[c] * down);
      }
      const int kvc = ((h0 + r) / p.group - kv0) * p.b_kv_stride;
      for (int c = lane; c < rw; c += 32) {
        const int j = c - kvc;
        if constexpr (RQ) {
          sm.qr[r * rq + c] =
              j >= 0 && j < drh ? to_f16(p.qb[(row0 + r) * drh + j] * down) : (bf16_t)0;
        } else {
          sm.qr[r * rq + c] =
              j >= 0 && j < drh ? to_bf16(p.qb[(row0 + r) * drh + j] * down) : (bf16_t)0;
        }
      }
      if (lane == 0) sm.rowpow[r] = mlq_pow2(e);
    }
  }
  if (tid < HS) {
    sm.m[tid] = MLA4J_NEG_INF;
    sm.l[tid] = 0.f;
  }

  // quantized latent: each lane's chunks' scale indices (and INT4 columns), and E (see the top of
  // the file), the same in every thread; -127 until a tile is seen
  const MlqLaneChunks<Q, L> lane_chunks(lane, QZ ? p.quant_group : 32);
  int e_run = -127;

  for (int i = 0; i < tiles; i++) {
    const int block_next = next_block;
    if constexpr (!QZ) {
      if (i + 1 < tiles) {
        load_tile(i + 1, block_next, 0);
        if (i + 2 < tiles) next_block = tile_block(i + 2);
      } else {
        asm volatile("cp.async.commit_group;\n" ::);
      }
      asm volatile("cp.async.wait_group 1;\n" ::);
      __syncthreads();
    } else {
      // Each warp dequantizes its own rows of tile i as soon as its copies have landed; the
      // barrier after that makes them (and the rope keys) visible, and every warp reaches it
      // only once done with tile i-1's stage, so tile i+1's codes leave after it. Per tile: this
      // barrier, after the scores, after the softmax.
      // (R2: all but the newest group, tile i+1's rope keys)
      asm volatile("cp.async.wait_group %0;\n" ::"n"(R2 ? 1 : 0));
      __syncwarp();
      if constexpr (RQ) {
        rope_rows.stage = sm.rope + (i % MLA_STAGES) * TK * rq;
        const int slot0 = (tok_begin + i * TK) % MLA4J_BLOCK_TOKENS;
        rope_rows.par0 = (slot0 * p.b_scale_row + rq_first) & 1;
      }
      mlq_dequantize_tile<L, TK, Q, MLA_WARPS, RQ, RCPL, R8>(
          sm.tile + (i % MLA_STAGES) * TK * qs, qs, lane_chunks, sm.texp, warp, lane, &rope_rows);
      __syncthreads();
      if (i + 1 < tiles) {
        load_tile(i + 1, block_next, 0);
        if (RW) load_tile(i + 1, block_next, 1);
        if (i + 2 < tiles) next_block = tile_block(i + 2);
      }
    }
    const int nvalid = tok_end - (tok_begin + i * TK);
    const bf16_t* tile = sm.tile + (i % MLA_STAGES) * TK * qs;
    const bf16_t* rope = sm.rope + (i % MLA_STAGES) * TK * rq;

    // S partials over one k-range per warp and unit: the latent k-steps, then the rope k-steps of
    // the unit's kv heads (or of the shared key).
    for (int u = warp % units; u < units; u += MLA_WARPS) {
      const int m = u % MT;
      const int tok = (u / MT) * nw;
      int r0 = rope_k0[0], rn = rope_kn[0];
#pragma unroll
      for (int mm = 1; mm < MT; mm++) {
        if (m == mm) {
          r0 = rope_k0[mm];
          rn = rope_kn[mm];
        }
      }
      const int ktot = kl + rn;
      const int k_begin = kp * ktot / kparts;
      const int k_end = (kp + 1) * ktot / kparts;
      float acc[CH][NT == 1 ? 2 : NT][4] = {};
      const int arow = m * 16 + (lane & 15), acol = (lane >> 4) * 8;
      const int brow = tok + (lane & 7) + (nw >= 16 ? (lane >> 4) << 3 : 0);
      const int bcol = ((lane >> 3) & 1) * 8;
      const bf16_t* qa = sm.q + arow * qs + acol;
      const bf16_t* kb = tile + brow * qs + bcol;
      // rope k-step ks >= kl reads column (r0 + ks - kl)·16 of the rope operands
      const bf16_t* qra = sm.qr + arow * rq + acol + (r0 - kl) * 16;
      const bf16_t* rb = rope + brow * rq + bcol + (r0 - kl) * 16;
      mla_score_steps<NT, QZ>(acc, qa, kb, 16 * qs, k_begin, min(k_end, kl));
      if (QZ && !RQ && k_begin < kl) mlq_scale_scores<NT>(acc, sm.texp + tok + 2 * tq);
      // RQ: FP16 rope keys in the latent's units 2^-E_t, so the token factors come after both
      mla_score_steps<NT, RQ>(acc, qra, rb, 16 * rq, max(k_begin, kl), k_end);
      if (RQ) mlq_scale_scores<NT>(acc, sm.texp + tok + 2 * tq);
#pragma unroll
      for (int nt = 0; nt < NT; nt++) {
        float* s0 = sm.s + (kp * HS + m * 16 + g) * ss + tok + nt * 8 + 2 * tq;
        if constexpr (CH == 2) {
          *(float2*)s0 = make_float2((acc[0][nt][0] + acc[1][nt][0]) * scale2,
                                     (acc[0][nt][1] + acc[1][nt][1]) * scale2);
          *(float2*)(s0 + 8 * ss) = make_float2((acc[0][nt][2] + acc[1][nt][2]) * scale2,
                                                (acc[0][nt][3] + acc[1][nt][3]) * scale2);
        } else {
          *(float2*)s0 = make_float2(acc[0][nt][0] * scale2, acc[0][nt][1] * scale2);
          *(float2*)(s0 + 8 * ss) = make_float2(acc[0][nt][2] * scale2, acc[0][nt][3] * scale2);
        }
      }
    }
    if (!RW && !R2 && !RQ && i + 1 < tiles) load_tile(i + 1, block_next, 1);
    __syncthreads();
    // R2: into tile i's rope stage, which no warp reads any more; next_block is tile i+2's
    if (R2) rope_ahead(i + 2, next_block);

    // Online softmax; the scores were stored already multiplied by scale·log2 e.
    float ratio = 1.f;  // O's rescale for a grown E
    if constexpr (!QZ) {
      mla_softmax_tile<RPW, TK, HS, ss, ps, kparts, LAZY>(
          sm.s, sm.pr, sm.m, sm.l, sm.alpha, warp, lane, nvalid, [](int) { return 1.f; },
          [](int) { return 1.f; }, [](float x) { return to_bf16_cvt(x); },
          [](unsigned short h) { return from_bf16(h); });
    } else {
      // every warp takes the new E from the same exponents, so all threads agree on it
      constexpr int TSLOTS = (TK + 31) / 32;
      int et = -127;
#pragma unroll
      for (int k = 0; k < TSLOTS; k++) {
        if (lane + 32 * k < TK && lane + 32 * k < nvalid) et = max(et, sm.texp[lane + 32 * k]);
      }
      const int e_new = max(e_run, mlq_warp_max(et));
      ratio = mlq_pow2(e_run - e_new);
      e_run = e_new;
      mla_softmax_tile<RPW, TK, HS, ss, ps, kparts, LAZY>(  // P times 2^(E_t - E) of its token
          sm.s, sm.pr, sm.m, sm.l, sm.alpha, warp, lane, nvalid,
          [&](int r) { return sm.rowpow[r]; }, [&](int t) { return mlq_pow2(sm.texp[t] - e_new); },
          [](float x) { return to_f16(x); }, [](unsigned short h) { return from_f16(h); });
    }
    __syncthreads();

    // O = O·alpha + P·C over this warp's columns. LAZY: alpha and ratio are exactly 1 in a tile
    // where no row's reference maximum and not E moved, nearly always after the first tiles, and
    // the rescale (MT·LW·4 multiplies a thread) is skipped then.
    // (The factors are all loaded before the vote: with the vote first and the loads behind it,
    // measured in stop 36, the skip kept a third of its gain.)
    auto rescale = [&](int m, float a0, float a1) {
#pragma unroll
      for (int n = 0; n < LW; n++) {
        o[m][n][0] *= a0;
        o[m][n][1] *= a0;
        o[m][n][2] *= a1;
        o[m][n][3] *= a1;
      }
    };
    if constexpr (LAZY) {
      float a[MT][2];
      bool held = true;
#pragma unroll
      for (int m = 0; m < MT; m++) {
        a[m][0] = sm.alpha[m * 16 + g] * ratio;
        a[m][1] = sm.alpha[m * 16 + g + 8] * ratio;
        held = held && a[m][0] == 1.f && a[m][1] == 1.f;
      }
      if (!__all_sync(0xffffffffu, held)) {
#pragma unroll
        for (int m = 0; m < MT; m++) rescale(m, a[m][0], a[m][1]);
      }
    } else {
#pragma unroll
      for (int m = 0; m < MT; m++) {
        const float a0 = sm.alpha[m * 16 + g] * ratio;
        const float a1 = sm.alpha[m * 16 + g + 8] * ratio;
        rescale(m, a0, a1);
      }
    }
#pragma unroll
    for (int kt = 0; kt < TK / 16; kt++) {
      unsigned a[MT][4];
#pragma unroll
      for (int m = 0; m < MT; m++) {
        ldsm_x4(a[m], sm.pr + (m * 16 + (lane & 15)) * ps + kt * 16 + (lane >> 4) * 8);
      }
#pragma unroll
      for (int np = 0; np < LW / 2; np++) {
        unsigned b[4];
        ldsm_x4_trans(b, tile + (kt * 16 + (lane & 15)) * qs + wcol0 + np * 16 + (lane >> 4) * 8);
#pragma unroll
        for (int m = 0; m < MT; m++) {
          mma<QZ>(o[m][2 * np], a[m], b[0], b[1]);
          mma<QZ>(o[m][2 * np + 1], a[m], b[2], b[3]);
        }
      }
    }
    if constexpr (!QZ) __syncthreads();  // the next iteration's copies overwrite this stage
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  if constexpr (QZ) {  // O was kept in units of 2^E
    const float up = mlq_pow2(e_run);
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
      for (int n = 0; n < LW; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) o[m][n][c] *= up;
  }

#if MLA4J_HAS_CLUSTERS
  // Not in the instances of MT·LW·TK > MLA_CLUSTER_MAX_WORK (KernelChoice mirrors it), which
  // already need 250+ registers: there ptxas spills once the combine is inlined.
  if constexpr (MT * LW * TK <= MLA_CLUSTER_MAX_WORK) {
    if (const unsigned csize = cluster_size(); csize > 1) {  // the host launches 2, 4 or 8
      if (csize != 2 && csize != 4 && csize != 8) __trap();
      mla_cluster_stage<MT, LW>(o, sm, csize);
      if (csize == 2) mla_cluster_sum<HS, L, 2>(p, sm, row0);
      else if (csize == 4) mla_cluster_sum<HS, L, 4>(p, sm, row0);
      else mla_cluster_sum<HS, L, 8>(p, sm, row0);
      return;
    }
  } else if (cluster_size() > 1) {
    __trap();  // KernelChoice.combinesInCluster launches no clusters of these instances
  }
#endif
  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  const long long base = p.splits == 1 ? row0 : (long long)split * rows + row0;
  float* dst = p.splits == 1 ? p.out : p.part_acc;
  mla_store_o<MT, LW>(o, dst + base * L, L, wcol0, lane, [&](int r) {
    const float l = sm.l[r];
    return p.splits > 1 ? 1.f : (l > 0.f ? 1.f / l : 0.f);
  });
  if (p.splits > 1 && tid < HS) {
    p.part_ml[(base + tid) * 2] = sm.m[tid] * MLA_LN2;  // the merge works in base e
    p.part_ml[(base + tid) * 2 + 1] = sm.l[tid];
  }
}


// The quantized instances' (format, m16 head tiles, latent width, tile tokens) list, for a kernel
// macro K(NAME, Q, MT, LW, TK): mla_mma_quant.cu and mla_mma_quant_rope.cu instantiate the same
// shapes (CudaContext lists their names).
#define MLA_QUANT_TILES(K, NAME, Q, MT, LW) \
  K(NAME, Q, MT, LW, 16) K(NAME, Q, MT, LW, 32) K(NAME, Q, MT, LW, 64)
#define MLA_QUANT_SHAPES(K, NAME, Q) \
  MLA_QUANT_TILES(K, NAME, Q, 1, 8)  \
  MLA_QUANT_TILES(K, NAME, Q, 2, 8)  \
  MLA_QUANT_TILES(K, NAME, Q, 4, 8)  \
  MLA_QUANT_TILES(K, NAME, Q, 1, 16) \
  MLA_QUANT_TILES(K, NAME, Q, 2, 16) \
  MLA_QUANT_TILES(K, NAME, Q, 1, 32)

#endif
