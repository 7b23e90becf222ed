// Absorbed MLA decode on tensor cores over a quantized latent cache (INT8 or FP8 E4M3 codes with
// one BF16 scale per token and group of G latent columns; rope keys BF16). The codes are staged
// in shared memory as stored (1 byte each) and widened in registers right before the MMAs: no
// full-precision copy of the cache exists anywhere. Same CTA shape, split-state layout and merge
// as mla_mma.cu (the BF16 kernel); what differs:
//
// * MMAs take FP16 operands (m16n8k16, FP32 accumulators): INT8 and E4M3 codes are exact in FP16,
//   and sm_89+ converts two E4M3 codes to FP16 in one instruction. No scale enters an FP16 value
//   unnormalized, so FP16's range never binds:
//   - Q~ rows are scaled by a power of two 2^-E_r into [2^14, 2^15) before rounding; the
//     softmax multiplies the score back by 2^E_r.
//   - Scores: S = Σ_groups s[τ][g]·(Q~_g·codes_gᵀ): one MMA chain per group, scaled in FP32.
//   - Values: O += (P·s'[τ][g])·codes with s' = s·2^-E_g, E_g the exponent of the largest scale
//     of group g seen so far (never decreasing, so O is only ever scaled down); O is kept in
//     units of 2^E_g and multiplied back at the end.
// * Fragments come from ldmatrix on the byte tile: a b16 "element" is two codes. Non-transposed,
//   a thread gets bytes 4q..4q+3 of a 16-byte chunk, used as k = 2q, 2q+1, 2q+8, 2q+9, so Q~ is
//   stored with that permutation inside each 16-column chunk. Transposed, it gets byte pairs of
//   two tokens; one byte permute gives the 4 tokens of an even and of an odd column, so a warp's
//   O columns are interleaved (even / odd n8 tiles) and unscrambled by the final store.
#include "mla4j_device.h"
#include "mla4j_mma.h"

#define MLQ_WARPS 8
#define MLQ_THREADS (MLQ_WARPS * 32)
#define MLQ_STAGES 2
#define MLQ_PAD 8        // halves of padding per Q~ / P / rope row: 16 bytes
#define MLQ_CODE_PAD 16  // bytes of padding per code row: 8 rows of one ldmatrix hit 32 banks

__device__ __forceinline__ void mlq_cp8(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 8 : 0));
}

__device__ __forceinline__ unsigned short mlq_half(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

__device__ __forceinline__ float mlq_from_half(unsigned short h) {
  float f;
  asm("{.reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t;}" : "=f"(f) : "h"(h));
  return f;
}

__device__ __forceinline__ unsigned mlq_hmul2(unsigned a, unsigned b) {
  unsigned d;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

__device__ __forceinline__ unsigned mlq_prmt(unsigned a, unsigned b, unsigned sel) {
  unsigned d;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(sel));
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

// 2^e for integer e in [-126, 127].
__device__ __forceinline__ float mlq_pow2(int e) { return __int_as_float((e + 127) << 23); }

template <int MT, int LW, int Q, int TK>
__device__ void mla_mma_quant(const PagedAttnParams& p) {
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  constexpr int HS = 16 * MT;
  constexpr int L = 64 * LW;
  constexpr int WCOLS = L / MLQ_WARPS;  // O columns per warp
  constexpr int SPANS = WCOLS / 32;     // 32-column spans per warp: one ldmatrix.trans each
  constexpr int RPW = HS / MLQ_WARPS;   // softmax rows per warp
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int G = p.quant_group;
  const int ng = L / G;  // scales per token
  const bool shared_rope = p.b_kv_stride == 0;
  const int drs = shared_rope ? p.b_width : 0;  // shared rope columns
  const int drh = shared_rope ? 0 : p.b_width;  // per-head rope columns (block-diagonal q_R)
  const int qs = L + MLQ_PAD;
  const int cs = L + MLQ_CODE_PAD;
  // Rope keys (BF16 MMA, as in mla_mma.cu): the shared d_r, or the slab's per-head span padded
  // to 16 columns, with q_R staged block-diagonally.
  const int span_max = drh == 0 ? drs : ((HS - 1) / p.group + 1) * p.b_kv_stride + drh;
  const int rw = (span_max + 15) & ~15;
  const int rs = rw == 0 ? 0 : rw + MLQ_PAD;
  constexpr int ss = TK + 4;
  constexpr int MU = MT >= 2 ? 2 : 1;  // m16 head tiles per score unit: they share widened codes
  constexpr int units = (MT / MU) * (TK / 16);
  constexpr int kparts = units >= MLQ_WARPS ? 1 : MLQ_WARPS / units;
  constexpr int ps = TK + MLQ_PAD;

  unsigned short* sq = (unsigned short*)smem_raw;           // [HS][qs] Q~·2^-E_r, FP16, permuted
  unsigned short* sqr = sq + HS * qs;                       // [HS][rs] q_R·2^-E_r, BF16
  unsigned char* sct = (unsigned char*)(sqr + HS * rs);     // [ST][TK][cs] codes
  unsigned short* ssc = (unsigned short*)(sct + MLQ_STAGES * TK * cs);      // [ST][TK][ng] scales
  unsigned short* srope = ssc + MLQ_STAGES * TK * ng;       // [ST][TK][rs] rope keys, BF16
  float* s_s = (float*)(srope + MLQ_STAGES * TK * rs);     // [kparts][HS][ss] partial scores
  unsigned short* spr = (unsigned short*)(s_s + kparts * HS * ss);  // [HS][ps] P, FP16
  float* sm_m = (float*)(spr + HS * ps);
  float* sm_l = sm_m + HS;
  float* sm_alpha = sm_l + HS;
  float* sm_rowpow = sm_alpha + HS;  // [HS] 2^E_r
  float* sm_gdown = sm_rowpow + HS;  // [ng] 2^-E_g of the current tile
  float* sm_gratio = sm_gdown + ng;  // [ng] 2^(E_g old - E_g new), O's rescale
  int* sm_gexp = (int*)(sm_gratio + ng);  // [ng] E_g, INT_MIN before the first nonzero scale
  unsigned* spair = (unsigned*)(sm_gexp + ng);  // [ng][TK/2] FP16 pairs s'(2j), s'(2j+1)

  const int split = blockIdx.x;
  const int h0 = blockIdx.y * HS;
  const int token_row = blockIdx.z;
  const int seq = token_row / p.tokens;
  const int t = token_row - seq * p.tokens;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int kv0 = h0 / p.group;
  const int span = drh == 0 ? drs : ((h0 + HS - 1) / p.group - kv0) * p.b_kv_stride + drh;
  const long long row0 = (long long)token_row * p.heads + h0;

  // Q~ rows, one warp per row: max |q|, then 2^-E_r·q rounded to FP16 in the k permutation.
  for (int r = warp; r < HS; r += MLQ_WARPS) {
    const float* qa = p.qa + (row0 + r) * L;
    float amax = 0.f;
    for (int c = lane * 4; c < L; c += 128) {
      const float4 v = *(const float4*)(qa + c);
      amax = fmaxf(amax, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
    }
    for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    // E_r with amax·2^-E_r in [2^14, 2^15): FP16 holds every value to 11 bits, none overflows.
    const int e = amax > 0.f ? min(max(((__float_as_int(amax) >> 23) & 0xff) - 127 - 14, -100), 100) : 0;
    const float down = mlq_pow2(-e);
    for (int c = lane * 4; c < L; c += 128) {
      const float4 v = *(const float4*)(qa + c);
      const int chunk = c & ~15, q4 = (c & 15) >> 2;  // source bytes 4q..4q+3 are k 2q, 2q+1, 2q+8, 2q+9
      *(unsigned*)(sq + r * qs + chunk + 2 * q4) = pack_half2(v.x * down, v.y * down);
      *(unsigned*)(sq + r * qs + chunk + 2 * q4 + 8) = pack_half2(v.z * down, v.w * down);
    }
    const int kvc = drh > 0 ? ((h0 + r) / p.group - kv0) * p.b_kv_stride : 0;
    for (int c = lane; c < rw; c += 32) {
      const int j = c - kvc;
      sqr[r * rs + c] = j >= 0 && j < p.b_width ? to_bf16(p.qb[(row0 + r) * p.b_width + j] * down)
                                                : (bf16_t)0;
    }
    if (lane == 0) {
      sm_rowpow[r] = mlq_pow2(e);
      sm_m[r] = MLA4J_NEG_INF;
      sm_l[r] = 0.f;
    }
  }
  for (int i = tid; i < ng; i += MLQ_THREADS) sm_gexp[i] = -2147483647 - 1;

  const int key_end = p.first_pos[seq] + t + 1;
  const KeyRange keys = split_keys(p, split, key_end);
  const int tok_begin = keys.begin, tok_end = keys.end;
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  const int tiles = tok_end > tok_begin ? (tok_end - tok_begin + TK - 1) / TK : 0;

  // Copy geometry, fixed for the kernel: the codes have compile-time rows (CC 16-byte chunks);
  // scale groups per row are a power of two, so their 8-byte chunks divide the CTA too; the rope
  // rows take a fixed column when their chunks divide the CTA, else walk (row, chunk) cells with
  // a carry (no division per copy, see mla_mma.cu).
  constexpr int CC = L / 16;
  constexpr int CROWS = MLQ_THREADS / CC;
  const int cr0 = tid / CC, cc0 = (tid % CC) * 16;
  // codes rows of exactly L bytes (checked by the host): compile-time offsets on both sides
  const long long code_thread = p.a_offset + (long long)cr0 * L + cc0;
  const int sc_n = ng / 4;  // 8-byte scale chunks per token
  const int sc_dt = MLQ_THREADS / sc_n, sc_t0 = tid / sc_n, sc_k0 = (tid % sc_n) * 4;
  const int pc = ((span + 15) & ~15) / 8;  // 16-byte chunks per rope row, zeros past the span
  const int pc_dt = pc > 0 ? MLQ_THREADS / pc : 0, pc_dc = pc > 0 ? MLQ_THREADS - pc_dt * pc : 0;
  const int pc_t0 = pc > 0 ? tid / pc : TK, pc_c0 = pc > 0 ? tid - pc_t0 * pc : 0;

  // Rows past tok_end are zero-filled (codes, scales and rope keys), so that no stale value meets
  // a zero probability. As in mla_mma.cu, a tile leaves in two commit groups: part 0 (the first
  // half of this thread's code rows) at the top of the iteration before, part 1 (the rest, the
  // scales and the rope keys) after that iteration's score products.
  auto load_tile = [&](int i, int block_id, int part) {
    const int tok0 = tok_begin + i * TK;
    const unsigned char* block = p.pool + (long long)block_id * p.block_bytes;
    const int slot0 = tok0 % MLA4J_BLOCK_TOKENS;
    const int nvalid = tok_end - tok0;
    {
      const unsigned char* src = block + code_thread + (long long)slot0 * L;
      const unsigned dst = smem_addr(sct + (i % MLQ_STAGES) * TK * cs + cr0 * cs + cc0);
      cp_async_rows<TK / CROWS, CROWS, CROWS * cs, CROWS * L>(dst, src, part, cr0, nvalid,
                                                              nvalid >= TK);
    }
    if (part == 0) {
      asm volatile("cp.async.commit_group;\n" ::);
      return;
    }
    const unsigned char* scales = block + p.a_scales + (slot0 * p.a_scale_row + sc_k0) * 2;
    const unsigned short* b = (const unsigned short*)(block + p.b_offset) + slot0 * p.b_row
        + kv0 * p.b_kv_stride;
    unsigned short* sc = ssc + (i % MLQ_STAGES) * TK * ng + sc_k0;
    for (int tt = sc_t0; tt < TK; tt += sc_dt) {
      mlq_cp8(sc + tt * ng, scales + tt * p.a_scale_row * 2, tt < nvalid);
    }
    unsigned short* rope = srope + (i % MLQ_STAGES) * TK * rs;
    if (pc_dc == 0) {
      const bool col_ok = pc_c0 * 8 < span;
#pragma unroll 4
      for (int tt = pc_t0; tt < TK; tt += pc_dt) {
        const bool ok = col_ok && tt < nvalid;
        cp_async16(rope + tt * rs + pc_c0 * 8, ok ? b + tt * p.b_row + pc_c0 * 8 : b, ok);
      }
    } else {
      for (int tt = pc_t0, cc = pc_c0; tt < TK;) {
        const bool ok = tt < nvalid && cc * 8 < span;
        cp_async16(rope + tt * rs + cc * 8, ok ? b + tt * p.b_row + cc * 8 : b, ok);
        tt += pc_dt;
        cc += pc_dc;
        if (cc >= pc) {
          cc -= pc;
          tt++;
        }
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

  const int g = lane >> 2;
  const int tq = lane & 3;
  const int wcol0 = warp * WCOLS;
  const float scale2 = p.scale * MLA_LOG2E;
  // Rope k-steps of each m16 head tile: all of d_r when shared, else its kv heads' columns.
  int rope_k0[MT], rope_kn[MT];
#pragma unroll
  for (int m = 0; m < MT; m++) mla_rope_steps(p, h0, kv0, m, drh, drs / 16, rope_k0[m], rope_kn[m]);
  __syncthreads();

  if (tiles > 0) {
    load_tile(0, tile_block(0), 0);
    load_tile(0, tile_block(0), 1);
  }
  int next_block = tiles > 1 ? tile_block(1) : 0;
  for (int i = 0; i < tiles; i++) {
    const int block_next = next_block;
    if (i + 1 < tiles) {
      load_tile(i + 1, block_next, 0);
      if (i + 2 < tiles) next_block = tile_block(i + 2);
    } else {
      asm volatile("cp.async.commit_group;\n" ::);
    }
    asm volatile("cp.async.wait_group 1;\n" ::);
    __syncthreads();
    const int tok0 = tok_begin + i * TK;
    const int n_valid = min(TK, tok_end - tok0);
    const unsigned char* ct = sct + (i % MLQ_STAGES) * TK * cs;
    const unsigned short* sc = ssc + (i % MLQ_STAGES) * TK * ng;
    const unsigned short* rope = srope + (i % MLQ_STAGES) * TK * rs;

    // S partials: per unit (m16 head tile, 16 tokens) and k-range of whole groups, one MMA chain
    // per group, scaled by the tokens' group scales in FP32; the shared rope joins the last part.
    const int kp = units >= MLQ_WARPS ? 0 : warp / units;
    for (int u = warp % units; u < units; u += MLQ_WARPS) {
      const int m0 = (u % (MT / MU)) * MU;
      const int np = u / (MT / MU);
      float acc[MU][2][4];
#pragma unroll
      for (int mu = 0; mu < MU; mu++)
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
          for (int c = 0; c < 4; c++) acc[mu][nt][c] = 0.f;
      const int g_end = (kp + 1) * ng / kparts;
#pragma unroll 2
      for (int gi = kp * ng / kparts; gi < g_end; gi++) {
        float part[MU][2][4];
#pragma unroll
        for (int mu = 0; mu < MU; mu++)
#pragma unroll
          for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int c = 0; c < 4; c++) part[mu][nt][c] = 0.f;
#pragma unroll 2
        for (int ks = gi * G / 16; ks < (gi + 1) * G / 16; ks += 2) {
          unsigned b[4];
          // matrices: (tokens 0-7 | 8-15) x (chunk ks | ks+1)
          ldsm_x4(b, ct + (np * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * cs + (ks + (lane >> 4)) * 16);
          unsigned w[4][2];
#pragma unroll
          for (int j = 0; j < 4; j++) mlq_widen<Q>(b[j], w[j][0], w[j][1]);
#pragma unroll
          for (int mu = 0; mu < MU; mu++) {
            unsigned a0[4], a1[4];
            ldsm_x4(a0, sq + ((m0 + mu) * 16 + (lane & 15)) * qs + ks * 16 + (lane >> 4) * 8);
            ldsm_x4(a1, sq + ((m0 + mu) * 16 + (lane & 15)) * qs + (ks + 1) * 16 + (lane >> 4) * 8);
            mma_f16(part[mu][0], a0, w[0][0], w[0][1]);
            mma_f16(part[mu][1], a0, w[1][0], w[1][1]);
            mma_f16(part[mu][0], a1, w[2][0], w[2][1]);
            mma_f16(part[mu][1], a1, w[3][0], w[3][1]);
          }
        }
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
          const int tt = np * 16 + nt * 8 + 2 * tq;
          const float s0 = from_bf16(sc[tt * ng + gi]);
          const float s1 = from_bf16(sc[(tt + 1) * ng + gi]);
#pragma unroll
          for (int mu = 0; mu < MU; mu++) {
            acc[mu][nt][0] = fmaf(part[mu][nt][0], s0, acc[mu][nt][0]);
            acc[mu][nt][1] = fmaf(part[mu][nt][1], s1, acc[mu][nt][1]);
            acc[mu][nt][2] = fmaf(part[mu][nt][2], s0, acc[mu][nt][2]);
            acc[mu][nt][3] = fmaf(part[mu][nt][3], s1, acc[mu][nt][3]);
          }
        }
      }
      // rope k-steps of each head tile, split over the k-parts like the groups
#pragma unroll
      for (int mu = 0; mu < MU; mu++) {
        int r0 = rope_k0[0], rn = rope_kn[0];
#pragma unroll
        for (int mm = 1; mm < MT; mm++) {
          if (m0 + mu == mm) {
            r0 = rope_k0[mm];
            rn = rope_kn[mm];
          }
        }
        const int k_end = r0 + (kp + 1) * rn / kparts;
        for (int ks = r0 + kp * rn / kparts; ks < k_end; ks++) {
          unsigned b[4], a[4];
          ldsm_x4(b, rope + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * rs + ks * 16 + ((lane >> 3) & 1) * 8);
          ldsm_x4(a, sqr + ((m0 + mu) * 16 + (lane & 15)) * rs + ks * 16 + (lane >> 4) * 8);
          mma_bf16(acc[mu][0], a, b[0], b[1]);
          mma_bf16(acc[mu][1], a, b[2], b[3]);
        }
      }
#pragma unroll
      for (int mu = 0; mu < MU; mu++)
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
          float* s0 = s_s + (kp * HS + (m0 + mu) * 16 + g) * ss + np * 16 + nt * 8 + 2 * tq;
          *(float2*)s0 = make_float2(acc[mu][nt][0], acc[mu][nt][1]);
          *(float2*)(s0 + 8 * ss) = make_float2(acc[mu][nt][2], acc[mu][nt][3]);
        }
    }
    if (i + 1 < tiles) load_tile(i + 1, block_next, 1);
    __syncthreads();

    // Online softmax (P rounded to FP16; scores in units of 2^-E_r), then the groups' running
    // scale exponents (one warp per group).
    mla_softmax_tile<RPW, TK, HS, ss, ps, kparts>(
        s_s, spr, sm_m, sm_l, sm_alpha, warp, lane, n_valid,
        [&](int r) { return sm_rowpow[r] * scale2; }, [](float x) { return mlq_half(x); },
        [](unsigned short h) { return mlq_from_half(h); });
    for (int gi = warp; gi < ng; gi += MLQ_WARPS) {
      float smax = 0.f;
      for (int tt = lane; tt < n_valid; tt += 32) smax = fmaxf(smax, from_bf16(sc[tt * ng + gi]));
      for (int off = 16; off > 0; off >>= 1) smax = fmaxf(smax, __shfl_xor_sync(0xffffffffu, smax, off));
      const int e_old = sm_gexp[gi];
      // scales are BF16, so their exponents lie in [-133, 127]; clamp to 2^±126 factors
      const int e_tile = smax > 0.f ? max(((__float_as_int(smax) >> 23) & 0xff) - 127, -100) : e_old;
      const int e_new = max(e_old, e_tile);
      const bool unset = e_new == -2147483647 - 1;
      const float down = unset ? 1.f : mlq_pow2(-e_new);
      // s' of tokens (2j, 2j+1) as one FP16 pair: the A-operand scale of P·codes
      for (int j = lane; j < TK / 2; j += 32) {
        spair[gi * (TK / 2) + j] = pack_half2(from_bf16(sc[2 * j * ng + gi]) * down,
                                             from_bf16(sc[(2 * j + 1) * ng + gi]) * down);
      }
      __syncwarp();
      if (lane == 0) {
        sm_gexp[gi] = e_new;
        sm_gdown[gi] = down;
        sm_gratio[gi] = (unset || e_old == -2147483647 - 1) ? 1.f : mlq_pow2(max(e_old - e_new, -126));
      }
    }
    __syncthreads();

    // O = O·alpha·ratio + (P·s')·codes over this warp's columns.
#pragma unroll
    for (int sp = 0; sp < SPANS; sp++) {
      const float ratio = sm_gratio[(wcol0 + sp * 32) / G];
#pragma unroll
      for (int m = 0; m < MT; m++) {
        const float a0 = sm_alpha[m * 16 + g] * ratio;
        const float a1 = sm_alpha[m * 16 + g + 8] * ratio;
#pragma unroll
        for (int n = 4 * sp; n < 4 * sp + 4; n++) {
          o[m][n][0] *= a0;
          o[m][n][1] *= a0;
          o[m][n][2] *= a1;
          o[m][n][3] *= a1;
        }
      }
    }
#pragma unroll 2
    for (int kt = 0; kt < TK / 16; kt++) {
      unsigned pa[MT][4];
#pragma unroll
      for (int m = 0; m < MT; m++) {
        ldsm_x4(pa[m], spr + (m * 16 + (lane & 15)) * ps + kt * 16 + (lane >> 4) * 8);
      }
      const int t0 = kt * 16 + 2 * tq;
      // all of this k-step's code loads first, so their latency overlaps the widening and MMAs
      unsigned r[SPANS][4];
#pragma unroll
      for (int sp = 0; sp < SPANS; sp++) {
        // matrices: (tokens 0-7 | 8-15) x (bytes 0-15 | 16-31) of the span, transposed
        ldsm_x4_trans(r[sp], ct + (kt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * cs + wcol0 + sp * 32 + (lane >> 4) * 16);
      }
      int gprev = -1;
      unsigned a[MT][4];
#pragma unroll
      for (int sp = 0; sp < SPANS; sp++) {
        const int gi = (wcol0 + sp * 32) / G;
        if (gi != gprev) {  // P·s' for this group: tokens t0, t0+1 (regs 0, 1) and t0+8, t0+9 (2, 3)
          gprev = gi;
          const unsigned s01 = spair[gi * (TK / 2) + t0 / 2];
          const unsigned s89 = spair[gi * (TK / 2) + t0 / 2 + 4];
#pragma unroll
          for (int m = 0; m < MT; m++) {
            a[m][0] = mlq_hmul2(pa[m][0], s01);
            a[m][1] = mlq_hmul2(pa[m][1], s01);
            a[m][2] = mlq_hmul2(pa[m][2], s89);
            a[m][3] = mlq_hmul2(pa[m][3], s89);
          }
        }
#pragma unroll
        for (int h = 0; h < 2; h++) {
          unsigned lo, hi;
          mlq_widen<Q>(mlq_prmt(r[sp][2 * h], r[sp][2 * h + 1], 0x6420u), lo, hi);  // even columns
#pragma unroll
          for (int m = 0; m < MT; m++) mma_f16(o[m][4 * sp + 2 * h], a[m], lo, hi);
          mlq_widen<Q>(mlq_prmt(r[sp][2 * h], r[sp][2 * h + 1], 0x7531u), lo, hi);  // odd columns
#pragma unroll
          for (int m = 0; m < MT; m++) mma_f16(o[m][4 * sp + 2 * h + 1], a[m], lo, hi);
        }
      }
    }
    __syncthreads();  // the next iteration's copies overwrite this stage
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  // Thread (g, q) holds, per 16-column half h of a span, columns 4q..4q+3 as
  // (even c0, odd c0, even c1, odd c1) for row g and (c2, c3) for row g + 8.
  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  const long long base = p.splits == 1 ? row0 : (long long)split * rows + row0;
  float* dst = p.splits == 1 ? p.out : p.part_acc;
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int r = m * 16 + g + 8 * half;
      const float l = sm_l[r];
      const float norm = p.splits > 1 ? 1.f : (l > 0.f ? 1.f / l : 0.f);
#pragma unroll
      for (int sp = 0; sp < SPANS; sp++) {
        const int gi = (wcol0 + sp * 32) / G;
        const float up = norm / sm_gdown[gi];
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const float* ev = o[m][4 * sp + 2 * h];
          const float* od = o[m][4 * sp + 2 * h + 1];
          const float4 v = make_float4(ev[2 * half] * up, od[2 * half] * up, ev[2 * half + 1] * up,
                                       od[2 * half + 1] * up);
          *(float4*)(dst + (base + r) * L + wcol0 + sp * 32 + h * 16 + 4 * tq) = v;
        }
      }
    }
  if (p.splits > 1 && tid < HS) {
    p.part_ml[(base + tid) * 2] = sm_m[tid] * MLA_LN2;  // the merge works in base e
    p.part_ml[(base + tid) * 2 + 1] = sm_l[tid];
  }
}

// One instance per (format, m16 head tiles, latent width, tile tokens); TK is a template parameter
// so that the score split, the softmax's token slots and the shared strides are constants.
#define MLQ_KERNEL(NAME, Q, MT, LW, TK)                                        \
  extern "C" __global__ void __launch_bounds__(MLQ_THREADS, 1)                 \
  mla4j_mla_mma_##NAME##_m##MT##_l##LW##_t##TK(const PagedAttnParams p) {      \
    mla_mma_quant<MT, LW, Q, TK>(p);                                           \
  }
#define MLQ_TILES(NAME, Q, MT, LW) \
  MLQ_KERNEL(NAME, Q, MT, LW, 16) MLQ_KERNEL(NAME, Q, MT, LW, 32) MLQ_KERNEL(NAME, Q, MT, LW, 64)
#define MLQ_SHAPES(NAME, Q) \
  MLQ_TILES(NAME, Q, 1, 8) \
  MLQ_TILES(NAME, Q, 2, 8) \
  MLQ_TILES(NAME, Q, 4, 8) \
  MLQ_TILES(NAME, Q, 1, 16) \
  MLQ_TILES(NAME, Q, 2, 16) \
  MLQ_TILES(NAME, Q, 1, 32)
MLQ_SHAPES(int8, MLA4J_Q_INT8)
MLQ_SHAPES(fp8, MLA4J_Q_FP8)
