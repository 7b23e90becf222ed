// Absorbed MLA decode on Hopper warpgroup MMAs over an INT8 / FP8 (E4M3) / INT4 latent cache
// (sm_90a only), DeepSeek's layout as mla_wgmma.cu: L = 512 latent columns in one segment of codes
// (INT4: two a byte, each group half-split as in mla4j_quant.h) with one BF16 scale per token and
// group of G = 32, 64 or 128 columns, one shared rope key of d_r = 64, n_h a multiple of 64. The
// rope key is BF16, or (the qrope instances, QR) codes of the latent's format in groups of
// min(G, d_r).
//
// Why: on the mma.sync template (mla4j_mla_mma.h) the quantized DeepSeek rows ran at x0.29-0.43
// of the BF16 wgmma kernel, whose warps are free while wgmma runs. Here the same CTA and tile
// (two warpgroups, 64 heads, 64-token tiles, the 128B-swizzled operand layout) read codes, which
// both warpgroups dequantize into FP16 a tile ahead of the scores.
//
// Warpgroup 1 copies a tile's codes into the upper latent blocks of its stage (rows of 512
// bytes, INT4 256), the scales to block 0 and the rope keys to their block while warpgroup 0
// computes the scores of the tile before. Then each warpgroup dequantizes half the tile,
// warpgroup w the token rows 32w..32w + 31, once its part of the tile before is issued (P·C,
// asynchronous), widening the codes in place into the FP16 swizzled blocks:
//   C'[t][c] = code[t][c] · s[t][c / G] · 2^-E_h   (E_h the exponent of the half's largest scale)
// a tile ahead of the scores that use it; split in two, the dequantization that warpgroup 0
// waits for at a tile's start takes half as long.
//   S[64][64]  = 2^E_h · Q~'[64][512]·C'ᵀ + q_R'·k_Rᵀ   warpgroup 0: 32 FP16 + 4 BF16 m64n64k16, the
//                                                    latent and rope parts in separate
//                                                    accumulators; Q~' = Q~ · 2^-E_r per head row
//                                                    (max in [2^14, 2^15)), q_R' likewise, and
//                                                    2^E_r · scale · log2 e multiplies the row
//   O[64][512] = O·alpha + P'·C'                      P' = P · 2^(E_h - E_run) in FP16, O kept in
//                                                    units of 2^E_run (E_run the largest E so far)
// QR: the rope codes are widened into the rope block like the latent's, under the same E_h (taken
// over both parts' scales), q_R' is FP16 under Q~'s 2^-E_r, and the rope products accumulate into
// the latent's accumulators (4 more FP16 m64n64k16), so the whole score has the latent's FP16
// precision. The softmax, its lazy rescale (slack 2^8) and the split of P·C over the warpgroups
// are the BF16 kernel's. FP16's range never binds: a tile's values are below 2^8 · 2 in
// magnitude; a token loses precision only in groups below 2^-14 of its half's largest scale.
#include "mla4j_device.h"
#include "mla4j_mla_wgmma.h"
#include "mla4j_mma_quant.h"

#define WQ_BAR_DQ 2                  // named barriers 2, 3: warpgroup 0's, 1's dequantization steps
#define WQ_BAR_LOADED 4              // named barrier: warpgroup 1's copies of a tile landed
#define WQ_HALF (WG_TK / 2)          // token rows per warpgroup
#define WQ_RSCALES 2048              // QR: a half's rope scales, at this byte of its block-0 rows
#define WQ_CODES (4 * WG_TK * 128)   // 128-byte piece q of code row r at this byte + q·8 KB + r·128
                                     // (FP16 row r of block 4 + q)
// After alpha, m, l: the rows' factors [WG_HEADS] floats, then ints: 4 rescale flags, 8 warp
// maxima of a half's scale bits (E_run at the end), E of each stage's halves. KernelChoice
// mirrors it.
#define WQ_SHARED (WG_F_OFF + 4 * WG_HEADS * 4 + 16 * 4 + 1024)

template <int Q, bool QR = false>
__device__ __forceinline__ void mla_wgmma_quant(const PagedAttnParams& p) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned raw = smem_addr(smem_raw);
  const unsigned base = (raw + 1023u) & ~1023u;
  unsigned char* const smem = smem_raw + (base - raw);
  const unsigned q_s = base + WG_Q_OFF, k_s = base + WG_K_OFF, p_s = base + WG_P_OFF;
  float* const s_alpha = (float*)(smem + WG_F_OFF);  // O's rescale: alpha · 2^(E_run' - E_run)
  float* const s_m = s_alpha + WG_HEADS;
  float* const s_l = s_m + WG_HEADS;
  float* const s_rowf = s_l + WG_HEADS;  // 2^E_r · scale · log2 e
  int* const s_rescale = (int*)(s_rowf + WG_HEADS);  // [4] per warp of warpgroup 0
  int* const s_ex = s_rescale + 4;                   // [8] per warp
  int* const s_etile = s_ex + 8;                     // [WG_STAGES][2] E of the stage's halves

  const WgCta cta(p);
  const int tid = cta.tid, wg = cta.wg, lane = cta.lane, tq = cta.tq, warp4 = cta.warp4;
  const int r_lo = cta.r_lo, tok_begin = cta.tok_begin, tok_end = cta.tok_end, tiles = cta.tiles;
  const long long row0 = cta.row0;
  const int* table = cta.table;
  const int ng = WG_L / p.quant_group;  // scales per token: 16, 8 or 4

  // Copies, by warpgroup 1 (warpgroup 0 is on the critical path at a tile's start): code chunk cc
  // (16 bytes, of 32 per row; INT4 16) of rows cr0 + 4j (INT4 cr0 + 8j); the scales' 8-byte
  // chunks, those of half h as [WQ_HALF][ng] at byte h·WQ_HALF·128 of the stage (FP16 rows of the
  // half in block 0); BF16 rope chunk rc of rows rr0 + 16j (QR: copy_rope_codes).
  constexpr bool int4 = Q == MLA4J_Q_INT4;
  constexpr int row_bytes = int4 ? WG_L / 2 : WG_L;
  constexpr int row_chunks = row_bytes / 16, copy_rows = 128 / row_chunks;
  constexpr int rope_bytes = int4 ? WG_DR / 2 : WG_DR;  // QR: rope code bytes per row
  const int ct = tid & 127;
  const int row_h = wg * WQ_HALF;  // the warpgroup's half: its first row
  const int cc = ct % row_chunks, cr0 = ct / row_chunks;
  const long long c_src = p.a_offset + (long long)cr0 * row_bytes + cc * 16;
  const unsigned c_dst = WQ_CODES + (cc >> 3) * WG_TK * 128 + cr0 * 128 + (cc & 7) * 16;
  const RopeCopy rope(p, ct);
  // QR: rope code row r (rope_bytes) at the start of the rope block's row r, unswizzled; the
  // tile's rope scales ([WG_TK][b_scale_row] BF16, contiguous in the block) split by half, half
  // h's at byte WQ_RSCALES of its rows in block 0. Scales of rows past the end are copied as
  // they are: the dequantization reads them as 0.
  auto copy_rope_codes = [&](unsigned stage, const unsigned char* block, int nvalid) {
    constexpr int chunks = rope_bytes / 16;
#pragma unroll
    for (int k = ct; k < WG_TK * chunks; k += 128) {
      const int row = k / chunks, c = k % chunks;
      cp_async16_s(stage + 8 * WG_TK * 128 + row * 128 + c * 16,
                   block + p.b_offset + row * rope_bytes + c * 16, row < nvalid);
    }
    const int half_chunks = WQ_HALF * p.b_scale_row * 2 / 16;
    if (ct < 2 * half_chunks) {
      const int h = ct / half_chunks, c = ct - h * half_chunks;
      cp_async16_s(stage + h * WQ_HALF * 128 + WQ_RSCALES + c * 16,
                   block + p.b_scales + (h * half_chunks + c) * 16);
    }
  };
  auto load_tile = [&](int i, int block_id) {
    const unsigned char* block = p.pool + (long long)block_id * p.block_bytes;
    const unsigned stage = k_s + (i % WG_STAGES) * WG_TILE_BYTES;
    const int nvalid = tok_end - (tok_begin + i * WG_TK);
#pragma unroll
    for (int j = 0; j < WG_TK / copy_rows; j++) {
      cp_async16_s(stage + c_dst + j * copy_rows * 128,
                   block + c_src + j * copy_rows * row_bytes, cr0 + copy_rows * j < nvalid);
    }
    const int per_row = ng / 4;
    for (int k = ct; k < WG_TK * per_row; k += 128) {
      const int row = k / per_row, ch = k - row * per_row;
      const unsigned dst = (row / WQ_HALF) * WQ_HALF * 128 + (row % WQ_HALF) * ng * 2 + ch * 8;
      asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(stage + dst),
                   "l"(block + p.a_scales + 2ll * row * p.a_scale_row + ch * 8),
                   "r"(row < nvalid ? 8 : 0));
    }
    if constexpr (QR) {
      copy_rope_codes(stage, block, nvalid);
    } else {
      rope.copy(stage, block, nvalid);
    }
    asm volatile("cp.async.commit_group;\n" ::);
  };

  // Dequantization of the warpgroup's half of tile i, in two halves of 256 columns. INT8 / FP8:
  // a thread widens chunk dc (8 codes) of each for rows dr0 + 4j. Its scales and the first half's
  // codes are read before the barrier that publishes the warps' maxima (the first half's FP16
  // blocks overwrite the scales); the second half's codes before a barrier of their own (their
  // FP16 blocks overwrite the codes).
  const int dc = ct & 31, dr0 = row_h + cr0;
  const int gi0 = (8 * dc) / p.quant_group, gi1 = (WG_L / 2 + 8 * dc) / p.quant_group;
  const unsigned code0 = WQ_CODES + (dc >> 4) * WG_TK * 128 + (8 * dc & 127) + dr0 * 128;
  // FP16 chunk (row dr0 + 4j, columns 8dc..) of the first half: row % 8 is cr0 + 4 (j % 2), so
  // its swizzled address is one of two bases plus 512 j
  unsigned swz[2];
#pragma unroll
  for (int m = 0; m < 2; m++) {
    swz[m] = (dc >> 3) * WG_TK * 128 + dr0 * 128 + (((dc & 7) ^ cr0 ^ (4 * m)) << 4);
  }
  // INT4: a thread widens 8 code bytes (16 codes, one group's low-nibble run and its high one,
  // G/2 columns apart) of rows row_h + rq + 8j, j < 4, in each half: code bytes 8·dq.. of the
  // half's 128-byte piece. Threads with bit 2 of dq set store their high run first, so that the
  // 8 threads of a store phase hit 8 distinct 16-byte slots (as in mlq_dequantize_tile). Rows
  // rq + 8j share rq's swizzle, so each run's FP16 address is one base plus 1 KB per row.
  const int rq = ct >> 4, dq = ct & 15;
  const bool swap4 = (dq & 4) != 0;
  int gq0;
  const int run0 = mlq_int4_first_run(8 * dq, p.quant_group, swap4, gq0) / 2;  // its column
  const int run1 = run0 + (swap4 ? -p.quant_group / 2 : p.quant_group / 2);
  auto swizzled = [&](int col) {
    return (col >> 6) * WG_TK * 128 + (row_h + rq) * 128 + ((((col & 63) >> 3) ^ rq) << 4);
  };
  const unsigned q_run0 = swizzled(run0), q_run1 = swizzled(run1);
  const unsigned q_code = WQ_CODES + (row_h + rq) * 128 + 8 * dq;
  // QR: a thread widens 16 rope codes of row row_h + rr: INT8/FP8 the 16-byte chunk rc (its
  // columns 16rc..), INT4 the 8 bytes at 8rc (a run of low nibbles and one of high ones, in
  // groups of min(G, d_r); odd rows store their high run first). Either way the 8 threads of a
  // store phase (two rows) hit 8 distinct 16-byte slots.
  const int rr = ct >> 2, rc = ct & 3;
  const int r_group = min(p.quant_group, WG_DR);
  int r_scale, r_run0, r_run1;  // the chunk's scale index and its runs' first columns
  if constexpr (int4) {
    r_run0 = mlq_int4_first_run(8 * rc, r_group, rr & 1, r_scale) / 2;
    r_run1 = r_run0 + ((rr & 1) ? -r_group / 2 : r_group / 2);
  } else {
    r_scale = 16 * rc / r_group;
    r_run0 = 16 * rc;
    r_run1 = 16 * rc + 8;
  }
  const unsigned r_code = 8 * WG_TK * 128 + (row_h + rr) * 128 + rc * (rope_bytes / 4);
  auto rope_at = [&](int col) {
    return 8 * WG_TK * 128 + (row_h + rr) * 128 + (((col >> 3) ^ (rr & 7)) << 4);
  };
  const unsigned r_at0 = rope_at(r_run0), r_at1 = rope_at(r_run1);
  struct RopeChunk {
    uint4 codes;
    unsigned sbits;  // its scale, 0 past the sequence's end
  };
  auto rope_read = [&](const unsigned char* st, int i) {
    RopeChunk r;
    if constexpr (int4) {
      const uint2 v = *(const uint2*)(st + r_code);
      r.codes = make_uint4(v.x, v.y, 0u, 0u);
    } else {
      r.codes = *(const uint4*)(st + r_code);
    }
    const unsigned short* sc = (const unsigned short*)(st + row_h * 128 + WQ_RSCALES);
    const bool valid = row_h + rr < tok_end - (tok_begin + i * WG_TK);
    r.sbits = valid ? sc[rr * p.b_scale_row + r_scale] : 0u;
    return r;
  };
  auto rope_store = [&](unsigned char* st, const RopeChunk& r, float down) {
    const float sf = from_bf16((bf16_t)r.sbits) * down;
    const unsigned w[4] = {r.codes.x, r.codes.y, r.codes.z, r.codes.w};
    if constexpr (int4) {
      mlq_widen_store_int4(w, (rr & 1) ? 4 : 0, pack_half2(sf, sf), st + r_at0, st + r_at1);
    } else {
      mlq_widen_store<Q>(w, pack_half2(sf, sf), st + r_at0, st + r_at1);
    }
  };
  auto publish_copies = [&]() {  // warpgroup 1: this thread's copies landed, to both warpgroups
    asm volatile("cp.async.wait_group 0;\n" ::);
    bar_arrive(WQ_BAR_LOADED, WG_THREADS);
  };
  // The warpgroup's exponent of tile i (stage st) from this thread's largest latent scale bits mb
  // and, QR, its rope chunk's scale (E in [-126, 126]: scales are BF16, so 2^-E is a normal float
  // and s·2^-E is exact); QR: the rope chunk is read before the barrier and widened after it.
  // Returns 2^-E.
  auto half_exponent = [&](unsigned char* st, int i, int mb) {
    RopeChunk rk;
    if constexpr (QR) {
      rk = rope_read(st, i);
      mb = max(mb, (int)rk.sbits);
    }
    mb = mlq_warp_max(mb);
    if (lane == 0) s_ex[4 * wg + warp4] = mb;
    bar_sync(WQ_BAR_DQ + wg, 128);
    const int* ex = s_ex + 4 * wg;
    mb = max(max(ex[0], ex[1]), max(ex[2], ex[3]));
    const int e = min(max(((mb >> 7) & 0xff) - 127, -126), 126);
    if (ct == 0) s_etile[(i % WG_STAGES) * 2 + wg] = e;
    const float down = mlq_pow2(-e);
    if constexpr (QR) rope_store(st, rk, down);
    return down;
  };
  // INT4: every code and scale of the half is read before the exponent's barrier, since the
  // FP16 blocks overwrite both (the codes take 2 of the 4 blocks INT8's take).
  auto dequantize_int4 = [&](unsigned char* st, int i) {
    const unsigned short* sc = (const unsigned short*)(st + row_h * 128) + rq * ng;
    const int gq1 = gq0 + (WG_L / 2) / p.quant_group;
    unsigned s0[WQ_HALF / 8], s1[WQ_HALF / 8];
    uint2 w0[WQ_HALF / 8], w1[WQ_HALF / 8];
    int mb = 0;
#pragma unroll
    for (int j = 0; j < WQ_HALF / 8; j++) {
      s0[j] = sc[8 * j * ng + gq0];
      s1[j] = sc[8 * j * ng + gq1];
      mb = max(mb, (int)max(s0[j], s1[j]));
      w0[j] = *(const uint2*)(st + q_code + j * 1024);
      w1[j] = *(const uint2*)(st + q_code + WG_TK * 128 + j * 1024);
    }
    const float down = half_exponent(st, i, mb);
    auto widen_store = [&](unsigned at, uint2 codes, unsigned sbits) {
      const float sf = from_bf16((bf16_t)sbits) * down;
      const unsigned w[4] = {codes.x, codes.y, 0u, 0u};
      mlq_widen_store_int4(w, swap4 ? 4 : 0, pack_half2(sf, sf), st + q_run0 + at,
                           st + q_run1 + at);
    };
#pragma unroll
    for (int j = 0; j < WQ_HALF / 8; j++) widen_store(j * 1024, w0[j], s0[j]);
#pragma unroll
    for (int j = 0; j < WQ_HALF / 8; j++) widen_store(4 * WG_TK * 128 + j * 1024, w1[j], s1[j]);
  };
  // INT8 / FP8: the first half's codes and the scales before the exponent's barrier, the second
  // half's before a barrier of their own (their FP16 blocks overwrite the codes).
  auto dequantize_bytes = [&](unsigned char* st, int i) {
    const unsigned short* sc = (const unsigned short*)(st + row_h * 128) + cr0 * ng;
    unsigned s0[WQ_HALF / 4], s1[WQ_HALF / 4];
    uint2 w[WQ_HALF / 4];
    int mb = 0;
#pragma unroll
    for (int j = 0; j < WQ_HALF / 4; j++) {
      s0[j] = sc[4 * j * ng + gi0];
      s1[j] = sc[4 * j * ng + gi1];
      mb = max(mb, (int)max(s0[j], s1[j]));  // positive BF16s order as their bits
      w[j] = *(const uint2*)(st + code0 + j * 512);
    }
    const float down = half_exponent(st, i, mb);
    auto widen_store = [&](unsigned at, uint2 codes, unsigned sbits) {
      const float sf = from_bf16((bf16_t)sbits) * down;
      const unsigned s2 = pack_half2(sf, sf);
      unsigned h[4];
      mlq_widen<Q>(codes.x, h[0], h[1]);
      mlq_widen<Q>(codes.y, h[2], h[3]);
      *(uint4*)(st + at) = make_uint4(
          mlq_hmul2(h[0], s2), mlq_hmul2(h[1], s2), mlq_hmul2(h[2], s2), mlq_hmul2(h[3], s2));
    };
#pragma unroll
    for (int j = 0; j < WQ_HALF / 4; j++) widen_store(swz[j & 1] + j * 512, w[j], s0[j]);
#pragma unroll
    for (int j = 0; j < WQ_HALF / 4; j++) {
      w[j] = *(const uint2*)(st + code0 + 2 * WG_TK * 128 + j * 512);
    }
    bar_sync(WQ_BAR_DQ + wg, 128);
#pragma unroll
    for (int j = 0; j < WQ_HALF / 4; j++) {
      widen_store(4 * WG_TK * 128 + swz[j & 1] + j * 512, w[j], s1[j]);
    }
  };
  auto dequantize = [&](int i) {
    unsigned char* const st = smem + WG_K_OFF + (i % WG_STAGES) * WG_TILE_BYTES;
    // warpgroup 1 has published its copies (publish_copies)
    bar_sync(wg == 0 ? WQ_BAR_LOADED : WQ_BAR_DQ + 1, wg == 0 ? WG_THREADS : 128);
    if constexpr (int4) {
      dequantize_int4(st, i);
    } else {
      dequantize_bytes(st, i);
    }
    fence_proxy_async();  // the FP16 blocks, written by st.shared, are read by wgmma
  };

  if (wg == 1 && tiles > 0) load_tile(0, table[0]);
  int next_block = tiles > 1 ? table[1] : 0;

  // Queries: each warp scales its 8 head rows by 2^-E_r (max |Q~_r| · 2^-E_r in [2^14, 2^15)),
  // Q~ in FP16 and q_R in BF16 into the swizzled blocks; 2^E_r · scale · log2 e to s_rowf.
  const float scale2 = p.scale * MLA_LOG2E;
  for (int h = (tid >> 5); h < WG_HEADS; h += WG_THREADS / 32) {
    const float* qa = p.qa + (row0 + h) * WG_L;
    float v[WG_L / 32];
    float amax = 0.f;
#pragma unroll
    for (int k = 0; k < WG_L / 64; k++) {
      v[2 * k] = qa[2 * lane + 64 * k];
      v[2 * k + 1] = qa[2 * lane + 64 * k + 1];
      amax = fmaxf(amax, fmaxf(fabsf(v[2 * k]), fabsf(v[2 * k + 1])));
    }
    const float* qb = p.qb + (row0 + h) * WG_DR;
    float b0, b1;
    if constexpr (QR) {  // q_R is FP16 under Q~'s exponent, as the rope keys under the latent's
      b0 = qb[2 * lane];
      b1 = qb[2 * lane + 1];
      amax = fmaxf(amax, fmaxf(fabsf(b0), fabsf(b1)));
    }
    for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const int er = amax > 0.f ? min(max(((__float_as_int(amax) >> 23) & 0xff) - 127 - 14, -100), 100) : 0;
    const float down = mlq_pow2(-er);
#pragma unroll
    for (int k = 0; k < WG_L / 64; k++) {
      *(unsigned*)(smem + WG_Q_OFF + swz128(WG_HEADS, h, 2 * lane + 64 * k)) =
          pack_half2(v[2 * k] * down, v[2 * k + 1] * down);
    }
    if constexpr (!QR) {
      b0 = qb[2 * lane];
      b1 = qb[2 * lane + 1];
    }
    *(unsigned*)(smem + WG_Q_OFF + swz128(WG_HEADS, h, WG_L + 2 * lane)) =
        QR ? pack_half2(b0 * down, b1 * down) : pack_bf162(b0 * down, b1 * down);
    if (lane == 0) s_rowf[h] = mlq_pow2(er) * scale2;
  }
  if (wg == 1 && tiles > 0) publish_copies();
  if (tiles > 0) dequantize(0);
  fence_proxy_async();  // the queries
  // Also converges the warps before the accumulators are set: without this barrier ptxas
  // serializes every wgmma of the kernel (C7520, a warpgroup arrive it inserts in a path it
  // cannot prove convergent after the per-warp query rows and warpgroup 1's dequantization).
  __syncthreads();

  const unsigned long long q_desc0 = wgmma_desc(q_s, 16, 1024);
  const unsigned long long k_desc0 = wgmma_desc(k_s, 16, 1024);
  const unsigned long long p_desc0 = wgmma_desc(p_s, 16, 1024);
  const unsigned long long v_desc0 = wgmma_desc(k_s + wg * 4 * WG_TK * 128, WG_TK * 128, 1024);
  float m_lo = MLA4J_NEG_INF, m_hi = MLA4J_NEG_INF, l_lo = 0.f, l_hi = 0.f;  // warpgroup 0
  int e_run = -127;                                                         // warpgroup 0
  float o[128];
#pragma unroll
  for (int i = 0; i < 128; i++) o[i] = 0.f;
  float s[32], sr[32];

  for (int i = 0; i < tiles; i++) {
    // Tile i dequantized (each warpgroup its half, the iteration before), its rope keys landed
    // (warpgroup 1) and the queries staged; every thread is past the P·C of tile i - 1, so its
    // stage and P are free.
    __syncthreads();
    if (wg == 1 && i + 1 < tiles) {
      load_tile(i + 1, next_block);
      if (i + 2 < tiles) next_block = table[i + 2];
    }
    const int nvalid = tok_end - (tok_begin + i * WG_TK);
    const unsigned stage_desc = (i % WG_STAGES) * (WG_TILE_BYTES >> 4);
    const unsigned long long k_desc = k_desc0 + stage_desc;
    if (wg == 0) {
      const int e_a = s_etile[(i % WG_STAGES) * 2], e_b = s_etile[(i % WG_STAGES) * 2 + 1];
      // read per tile: held across the loop they cost the FP8 instance a spill (255 registers)
      const float f_lo = s_rowf[r_lo], f_hi = s_rowf[r_lo + 8];
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < 32; ks++) {
        const unsigned koff = (ks & 3) * 2;
        wgmma_m64n64k16<true>(s, q_desc0 + (ks >> 2) * (WG_HEADS * 128 >> 4) + koff,
                              k_desc + (ks >> 2) * (WG_TK * 128 >> 4) + koff, ks > 0);
      }
#pragma unroll
      for (int ks = 0; ks < 4; ks++) {
        // QR: FP16 rope keys under the latent's exponents, into the latent's accumulators
        if constexpr (QR) {
          wgmma_m64n64k16<true>(s, q_desc0 + 8 * (WG_HEADS * 128 >> 4) + ks * 2,
                                k_desc + 8 * (WG_TK * 128 >> 4) + ks * 2, true);
        } else {
          wgmma_m64n64k16<false>(sr, q_desc0 + 8 * (WG_HEADS * 128 >> 4) + ks * 2,
                                 k_desc + 8 * (WG_TK * 128 >> 4) + ks * 2, ks > 0);
        }
      }
      wgmma_commit();
      wgmma_wait_all();
      wgmma_hold(s);
      if constexpr (!QR) wgmma_hold(sr);

      const float ft_a = mlq_pow2(e_a), ft_b = mlq_pow2(e_b);  // tokens 0..31, 32..63
      float mx_lo, mx_hi;
      masked_row_max(s, nvalid, tq, [&](int j, int c) {
        const float rope = QR ? 0.f : sr[4 * j + c];
        return (s[4 * j + c] * (j < 4 ? ft_a : ft_b) + rope) * (c < 2 ? f_lo : f_hi);
      }, mx_lo, mx_hi);
      // as the BF16 kernel; O's units follow E_run, the same in every thread
      const int e_new = max(e_run, max(e_a, e_b));
      const float ratio = mlq_pow2(e_run - e_new);
      e_run = e_new;
      bool up_lo, up_hi;
      const float a_lo = lazy_max(mx_lo, m_lo, up_lo), a_hi = lazy_max(mx_hi, m_hi, up_hi);
      const bool rescale = __any_sync(0xffffffffu, up_lo || up_hi) || ratio != 1.f;
      if (tq == 0) {
        s_alpha[r_lo] = a_lo * ratio;
        s_alpha[r_lo + 8] = a_hi * ratio;
      }
      if (lane == 0) s_rescale[warp4] = rescale;
      if (rescale) rescale_rows(o, a_lo * ratio, a_hi * ratio);

      const unsigned long long v_desc = v_desc0 + stage_desc;
      float sum_lo = 0.f, sum_hi = 0.f;
      unsigned pk[8][2];  // P in FP16 pairs, unscaled: chunk j's (row r_lo, row r_lo + 8) values
#pragma unroll
      for (int half = 0; half < 2; half++) {
        unsigned pa[4][2];  // P' = P · 2^(E_h - E_run), the products' operand; half h of P
        const float pf = mlq_pow2((half == 0 ? e_a : e_b) - e_new);
        const unsigned pscale = pack_half2(pf, pf);
#pragma unroll
        for (int j = 4 * half; j < 4 * half + 4; j++) {
          pk[j][0] = pack_half2(exp2_approx(s[4 * j] - m_lo), exp2_approx(s[4 * j + 1] - m_lo));
          pk[j][1] = pack_half2(exp2_approx(s[4 * j + 2] - m_hi), exp2_approx(s[4 * j + 3] - m_hi));
          pa[j - 4 * half][0] = mlq_hmul2(pk[j][0], pscale);
          pa[j - 4 * half][1] = mlq_hmul2(pk[j][1], pscale);
          *(unsigned*)(smem + WG_P_OFF + swz128(WG_HEADS, r_lo, 8 * j + 2 * tq)) =
              pa[j - 4 * half][0];
          *(unsigned*)(smem + WG_P_OFF + swz128(WG_HEADS, r_lo + 8, 8 * j + 2 * tq)) =
              pa[j - 4 * half][1];
        }
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 2; kk++) {
          const unsigned a[4] = {pa[2 * kk][0], pa[2 * kk][1], pa[2 * kk + 1][0],
                                 pa[2 * kk + 1][1]};
          wgmma_m64n256k16_rs_bt<true>(o, a, v_desc + (2 * half + kk) * (16 * 128 >> 4));
        }
      }
      fence_proxy_async();
      bar_arrive(WG_BAR_P, WG_THREADS);  // P', alpha and the flags to warpgroup 1
#pragma unroll
      for (int j = 0; j < 8; j++) {
        sum_lo += from_f16(pk[j][0] & 0xffffu) + from_f16(pk[j][0] >> 16);
        sum_hi += from_f16(pk[j][1] & 0xffffu) + from_f16(pk[j][1] >> 16);
      }
      quad_sum(sum_lo, sum_hi);
      l_lo = l_lo * a_lo + sum_lo;
      l_hi = l_hi * a_hi + sum_hi;
      wgmma_commit();
    } else {
      bar_sync(WG_BAR_P, WG_THREADS);
      if (i + 1 < tiles) publish_copies();  // the next tile's, for warpgroup 0's dequantization
      pc_from_shared<true>(o, s_rescale, s_alpha, warp4, r_lo, p_desc0, v_desc0 + stage_desc);
      wgmma_commit();
    }
    // the next tile's half meanwhile, into the other stage, while this tile's P·C runs
    if (i + 1 < tiles) dequantize(i + 1);
    wgmma_wait_all();
    wgmma_hold(o);
  }

  publish_ml(s_m, s_l, r_lo, m_lo, m_hi, l_lo, l_hi);
  if (tid == 0) s_ex[0] = e_run;  // no dequantization is left to read it
  __syncthreads();
  wg_store_o(p, o, s_m, s_l, row0, r_lo, mlq_pow2(s_ex[0]));  // O was kept in units of 2^E_run
#endif
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_int8_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_INT8>(p);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_fp8_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_FP8>(p);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_int4_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_INT4>(p);
}

// QR instances: rope keys quantized like the latent, dequantized with it.
extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_int8_qrope_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_INT8, true>(p);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_fp8_qrope_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_FP8, true>(p);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)
    mla4j_mla_wgmma_int4_qrope_h64_l512_r64(const PagedAttnParams p) {
  mla_wgmma_quant<MLA4J_Q_INT4, true>(p);
}
