// Absorbed MLA decode on tensor cores (v2), BF16 latent cache, device-resident fast path.
// Same parameter struct (PagedAttnParams) and split-state layout as attention.cu, whose merge
// kernel finishes split runs.
//
// CTA = (key range split, slab of HS = 16·MT heads, query token), 8 warps. Per tile of TK cached
// tokens, staged by 16-byte cp.async two tiles deep, the tile [TK][L (+ shared rope d_r)] is read
// once from memory and used by both products, with mma.sync m16n8k16 (BF16 in, FP32 out):
//   S[HS][TK]  = Q~[HS][L + d_r]·[C | k_R][TK][L + d_r]ᵀ  warps over (head tile, 16 tokens, k-range)
//                                                          units, partials summed by the softmax
//   O[HS][L]  += P[HS][TK]·C[TK][L]                       each warp owns L/8 columns of O, FP32
//                                                          accumulators in registers
// Per-head rope keys (MHA2MLA, one d_r slice per kv head) are block-diagonal in the head axis, so
// their scores q_R·k_R run on CUDA cores; the shared rope key (DeepSeek) joins the first MMA.
// Q and P are rounded to BF16 for the MMA: this kernel's error is BF16-like (see NOTES.md); the
// host API keeps the FP32-exact kernel.
#include "mla4j_device.h"
#include "mla4j_mma.h"

#define MLA_WARPS 8
#define MLA_THREADS (MLA_WARPS * 32)
// Elements of padding per shared row: shifts consecutive rows by 16 bytes, so the 8 rows an
// ldmatrix phase reads fall in different banks.
#define MLA_PAD 8
#define MLA_STAGES 2

// Shared-memory carve-up, computed the same way by MlaMmaPlan in Java.
struct MlaSmem {
  bf16_t* q;      // [HS][qs]        Q~ | q_R (shared rope)
  bf16_t* tile;   // [STAGES][TK][qs] C | k_R (shared rope)
  bf16_t* rope;   // [STAGES][TK][rs] per-head rope keys of the slab's kv heads
  float* qr;      // [HS][d_r]       per-head q_R, FP32
  float* s;       // [KPARTS][HS][TK + 4] partial scores, one slice per k-range
  bf16_t* pr;     // [HS][TK + 8]    probabilities
  float* m;       // [HS]
  float* l;       // [HS]
  float* alpha;   // [HS]
};

template <int MT, int LW>
__device__ void mla_mma(const PagedAttnParams& p) {
  constexpr int HS = 16 * MT;
  constexpr int L = 64 * LW;
  constexpr int WCOLS = L / MLA_WARPS;  // O columns per warp = 8·LW
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int TK = p.tile_tokens;
  const bool shared_rope = p.b_kv_stride == 0;
  const int drs = shared_rope ? p.b_width : 0;  // rope columns folded into the MMA
  const int drh = shared_rope ? 0 : p.b_width;  // per-head rope columns on CUDA cores
  const int qs = L + drs + MLA_PAD;
  const int span_max = drh == 0 ? 0 : ((HS - 1) / p.group + 1) * p.b_kv_stride + drh;
  const int rs = drh == 0 ? 0 : span_max + MLA_PAD;
  const int ss = TK + 4;
  // Score work: units of (m16 head tile, 16 tokens) over the full k range, each split into
  // kparts k-ranges so that all 8 warps have work; partial sums go to separate slices and are
  // added by the softmax (plain stores: shared-memory FP32 atomics are a compare-and-swap loop).
  const int units = MT * (TK / 16);
  const int kparts = units >= MLA_WARPS ? 1 : MLA_WARPS / units;
  const int ps = TK + MLA_PAD;

  MlaSmem sm;
  sm.q = (bf16_t*)smem_raw;
  sm.tile = sm.q + HS * qs;
  sm.rope = sm.tile + MLA_STAGES * TK * qs;
  sm.qr = (float*)(sm.rope + MLA_STAGES * TK * rs);
  sm.s = sm.qr + HS * drh;
  sm.pr = (bf16_t*)(sm.s + kparts * HS * ss);
  sm.m = (float*)(sm.pr + HS * ps);
  sm.l = sm.m + HS;
  sm.alpha = sm.l + HS;

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

  const long long row0 = (long long)token_row * p.heads + h0;
  for (int i = tid; i < HS * (L + drs); i += MLA_THREADS) {
    const int r = i / (L + drs);
    const int c = i - r * (L + drs);
    const float x = c < L ? p.qa[(row0 + r) * L + c] : p.qb[(row0 + r) * p.b_width + c - L];
    sm.q[r * qs + c] = to_bf16(x);
  }
  for (int i = tid; i < HS * drh; i += MLA_THREADS) {
    sm.qr[i] = p.qb[row0 * drh + i];
  }
  if (tid < HS) {
    sm.m[tid] = MLA4J_NEG_INF;
    sm.l[tid] = 0.f;
  }

  const int key_end = p.first_pos[seq] + t + 1;
  const int blocks = (key_end + MLA4J_BLOCK_TOKENS - 1) / MLA4J_BLOCK_TOKENS;
  const int b_begin = split * p.blocks_per_split;
  const int b_end = min(blocks, b_begin + p.blocks_per_split);
  const int tok_begin = b_begin * MLA4J_BLOCK_TOKENS;
  const int tok_end = min(key_end, b_end * MLA4J_BLOCK_TOKENS);
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  const int tiles = tok_end > tok_begin ? (tok_end - tok_begin + TK - 1) / TK : 0;

  // Queues the cp.async copies of tile i into stage i % 2 (rows past tok_end are zero-filled,
  // so that no stale value, NaN included, meets a zero probability in the second product).
  // Each thread walks its (token, 16-byte chunk) cells of a tile by adding MLA_THREADS cells at a
  // time as (dt rows, dc chunks) with a carry: no integer division per cp.async (it cost ~20
  // instructions each, in an issue-bound loop).
  const int rc = (L + drs) / 8;
  const int rc_dt = MLA_THREADS / rc, rc_dc = MLA_THREADS - rc_dt * rc;
  const int rc_t0 = tid / rc, rc_c0 = tid - rc_t0 * rc;
  const int pc = span / 8;
  const int pc_dt = pc > 0 ? MLA_THREADS / pc : 0, pc_dc = pc > 0 ? MLA_THREADS - pc_dt * pc : 0;
  const int pc_t0 = pc > 0 ? tid / pc : TK, pc_c0 = pc > 0 ? tid - pc_t0 * pc : 0;

  auto load_tile = [&](int i) {
    const int tok0 = tok_begin + i * TK;
    const unsigned char* block = p.pool + (long long)table[tok0 / MLA4J_BLOCK_TOKENS] * p.block_bytes;
    const bf16_t* a = (const bf16_t*)(block + p.a_offset);
    const bf16_t* b = (const bf16_t*)(block + p.b_offset);
    const int slot0 = tok0 % MLA4J_BLOCK_TOKENS;
    bf16_t* tile = sm.tile + (i % MLA_STAGES) * TK * qs;
    for (int tt = rc_t0, cc = rc_c0; tt < TK;) {
      const int col = cc * 8;
      const bool valid = tok0 + tt < tok_end;
      const long long slot = slot0 + tt;
      const bf16_t* src = col < L ? a + slot * p.a_row + col : b + slot * p.b_row + col - L;
      cp_async16(tile + tt * qs + col, valid ? src : a, valid);
      tt += rc_dt;
      cc += rc_dc;
      if (cc >= rc) {
        cc -= rc;
        tt++;
      }
    }
    if (drh > 0) {
      bf16_t* rope = sm.rope + (i % MLA_STAGES) * TK * rs;
      for (int tt = pc_t0, cc = pc_c0; tt < TK;) {
        const int col = cc * 8;
        const bool valid = tok0 + tt < tok_end;
        const bf16_t* src = b + (long long)(slot0 + tt) * p.b_row + kv0 * p.b_kv_stride + col;
        cp_async16(rope + tt * rs + col, valid ? src : b, valid);
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

  if (tiles > 0) load_tile(0);
  for (int i = 0; i < tiles; i++) {
    if (i + 1 < tiles) {
      load_tile(i + 1);
    } else {
      asm volatile("cp.async.commit_group;\n" ::);
    }
    asm volatile("cp.async.wait_group 1;\n" ::);
    __syncthreads();
    const int tok0 = tok_begin + i * TK;
    const bf16_t* tile = sm.tile + (i % MLA_STAGES) * TK * qs;

    // S partials = Q~·Cᵀ (plus the shared rope columns) over one k-range per warp and unit.
    const int ktotal = (L + drs) / 16;
    const int kp = units >= MLA_WARPS ? 0 : warp / units;
    for (int u = warp % units; u < units; u += MLA_WARPS) {
      const int m = u % MT;
      const int np = u / MT;
      float acc[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
      const int k_end = (kp + 1) * ktotal / kparts;
      for (int ks = kp * ktotal / kparts; ks < k_end; ks++) {
        unsigned b[4], a[4];
        ldsm_x4(b, tile + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * qs + ks * 16 + ((lane >> 3) & 1) * 8);
        ldsm_x4(a, sm.q + (m * 16 + (lane & 15)) * qs + ks * 16 + (lane >> 4) * 8);
        mma_bf16(acc[0], a, b[0], b[1]);
        mma_bf16(acc[1], a, b[2], b[3]);
      }
#pragma unroll
      for (int nt = 0; nt < 2; nt++) {
        float* s0 = sm.s + (kp * HS + m * 16 + g) * ss + np * 16 + nt * 8 + 2 * tq;
        *(float2*)s0 = make_float2(acc[nt][0], acc[nt][1]);
        *(float2*)(s0 + 8 * ss) = make_float2(acc[nt][2], acc[nt][3]);
      }
    }
    __syncthreads();

    // Online softmax, one warp per head row, lanes over tokens; P is rounded to BF16 here and
    // the row sum uses the rounded values, so that numerator and denominator agree.
    for (int r = warp; r < HS; r += MLA_WARPS) {
      float sv[2];
      float mx = MLA4J_NEG_INF;
#pragma unroll
      for (int k = 0; k < 2; k++) {
        const int tt = lane + 32 * k;
        sv[k] = MLA4J_NEG_INF;
        if (tt < TK && tok0 + tt < tok_end) {
          float x = 0.f;
          for (int kp = 0; kp < kparts; kp++) x += sm.s[(kp * HS + r) * ss + tt];
          if (drh > 0) {  // per-head rope score on CUDA cores
            const bf16_t* kr = sm.rope + (i % MLA_STAGES) * TK * rs + tt * rs
                + ((h0 + r) / p.group - kv0) * p.b_kv_stride;
            const float* qr = sm.qr + r * drh;
            for (int j = 0; j < drh; j++) x = fmaf(qr[j], from_bf16(kr[j]), x);
          }
          sv[k] = x * p.scale;
        }
        mx = fmaxf(mx, sv[k]);
      }
      for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_old = sm.m[r];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.f;
#pragma unroll
      for (int k = 0; k < 2; k++) {
        const int tt = lane + 32 * k;
        if (tt < TK) {
          const bf16_t e = to_bf16(sv[k] == MLA4J_NEG_INF ? 0.f : expf(sv[k] - m_new));
          sm.pr[r * ps + tt] = e;
          sum += from_bf16(e);
        }
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float alpha = m_old == MLA4J_NEG_INF ? 0.f : expf(m_old - m_new);
        sm.alpha[r] = alpha;
        sm.m[r] = m_new;
        sm.l[r] = sm.l[r] * alpha + sum;
      }
    }
    __syncthreads();

    // O = O·alpha + P·C over this warp's columns.
#pragma unroll
    for (int m = 0; m < MT; m++) {
      const float a0 = sm.alpha[m * 16 + g];
      const float a1 = sm.alpha[m * 16 + g + 8];
#pragma unroll
      for (int n = 0; n < LW; n++) {
        o[m][n][0] *= a0;
        o[m][n][1] *= a0;
        o[m][n][2] *= a1;
        o[m][n][3] *= a1;
      }
    }
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
          mma_bf16(o[m][2 * np], a[m], b[0], b[1]);
          mma_bf16(o[m][2 * np + 1], a[m], b[2], b[3]);
        }
      }
    }
    __syncthreads();  // the next iteration's copies overwrite this stage
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  const long long base = p.splits == 1 ? row0 : (long long)split * rows + row0;
  float* dst = p.splits == 1 ? p.out : p.part_acc;
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int r = m * 16 + g + 8 * half;
      const float l = sm.l[r];
      const float scale = p.splits > 1 ? 1.f : (l > 0.f ? 1.f / l : 0.f);
#pragma unroll
      for (int n = 0; n < LW; n++) {
        float2 v = make_float2(o[m][n][2 * half] * scale, o[m][n][2 * half + 1] * scale);
        *(float2*)(dst + (base + r) * L + wcol0 + n * 8 + 2 * tq) = v;
      }
    }
  if (p.splits > 1 && tid < HS) {
    p.part_ml[(base + tid) * 2] = sm.m[tid];
    p.part_ml[(base + tid) * 2 + 1] = sm.l[tid];
  }
}

#define MLA_KERNEL(MT, LW)                                                     \
  extern "C" __global__ void __launch_bounds__(MLA_THREADS, 1)                 \
  mla4j_mla_mma_bf16_m##MT##_l##LW(const PagedAttnParams p) {                  \
    mla_mma<MT, LW>(p);                                                        \
  }
MLA_KERNEL(1, 8)
MLA_KERNEL(2, 8)
MLA_KERNEL(4, 8)
MLA_KERNEL(1, 16)
MLA_KERNEL(2, 16)
MLA_KERNEL(1, 32)

// The roofline's tensor-core ceiling: BF16 mma.sync throughput with no memory traffic.
// 8 independent accumulator chains per warp cover the MMA latency; FLOPs = 2·16·8·16 per MMA.
#define MMA_PEAK_CHAINS 8
extern "C" __global__ void mla4j_mma_peak_bf16(const PeakParams p) {
  unsigned a[4];
  const unsigned seed = threadIdx.x * 0x9e3779b9u + blockIdx.x;
#pragma unroll
  for (int i = 0; i < 4; i++) a[i] = (seed >> i) & 0x3f803f80u;  // small BF16 pairs, no overflow
  const unsigned b0 = a[0] ^ 0x00010001u;
  const unsigned b1 = a[1] ^ 0x00010001u;
  float d[MMA_PEAK_CHAINS][4] = {};
  for (long long it = 0; it < p.iters; it++) {
#pragma unroll
    for (int c = 0; c < MMA_PEAK_CHAINS; c++) mma_bf16(d[c], a, b0, b1);
  }
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < MMA_PEAK_CHAINS; c++) sum += d[c][0] + d[c][1] + d[c][2] + d[c][3];
  p.out[(long long)blockIdx.x * blockDim.x + threadIdx.x] = sum;
}
