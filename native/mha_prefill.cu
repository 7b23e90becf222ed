// MHA/GQA causal prefill on tensor cores over a paged BF16/F16 cache, FlashAttention-2 style:
// the baseline's prefill chunk, T > 1 query tokens per sequence (mha_decode.cu runs one CTA per
// query token and re-reads every key per token; here a key is read once per 64 query rows). Same
// parameter struct (PagedAttnParams) and split-state layout as attention.cu, whose merge kernel
// finishes split runs.
//
// CTA = (key range split, 64 query rows of one kv head, sequence), 4 warps. The rows of a kv head
// are its T·group (token, head) pairs, token-major: row i is token i / group, head
// kv·group + i % group, at position first_pos + i / group. Each warp owns 16 rows for the whole
// key range: Q[16][d_h] stays in registers as MMA A fragments, and per 64-key tile (one cache
// block, staged two tiles deep by 16-byte cp.async)
//   S[16][64]    = Q·Kᵀ                 mma.sync m16n8k16, FP32 accumulators in registers
//   P            = exp2(S·scale·log2 e − m), causal mask, online softmax per row in registers
//   O[16][d_h]  += P·V                  P's accumulators re-packed as the A fragments
// so the warps share only the K/V tiles: one barrier per tile, none for the softmax. Q and P are
// rounded to the cache type for the MMA (BF16- or FP16-level error, see CudaBackendTest).
#include "mla4j_device.h"
#include "mla4j_mma.h"

#define PF_WARPS 4
#define PF_THREADS (PF_WARPS * 32)
#define PF_ROWS (16 * PF_WARPS)  // query rows per CTA
#define PF_KEYS MLA4J_BLOCK_TOKENS  // keys per tile: one cache block
#define PF_PAD 8                 // halves of padding per shared row: ldmatrix rows in distinct banks
#define PF_STAGES 2

template <int DT>
__device__ __forceinline__ void pf_mma(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  if (DT == MLA4J_BF16) {
    mma_bf16(d, a, b0, b1);
  } else {
    mma_f16(d, a, b0, b1);
  }
}

template <int DT>
__device__ __forceinline__ unsigned pf_pack(float lo, float hi) {
  return DT == MLA4J_BF16 ? pack_bf162(lo, hi) : pack_half2(lo, hi);
}

// The pair's two halves widened back, so that the row sums add what the MMA multiplies.
template <int DT>
__device__ __forceinline__ float pf_pair_sum(unsigned pair) {
  if (DT == MLA4J_BF16) {
    return __uint_as_float(pair << 16) + __uint_as_float(pair & 0xffff0000u);
  }
  float lo, hi;
  asm("{.reg .b16 a, b; mov.b32 {a, b}, %2; cvt.f32.f16 %0, a; cvt.f32.f16 %1, b;}"
      : "=f"(lo), "=f"(hi) : "r"(pair));
  return lo + hi;
}

// DK: query/key width (d_h, or d_r + d_nope of the naive MLA form), DV: value width.
template <int DT, int DK, int DV>
__device__ void mha_prefill(const PagedAttnParams& p) {
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  constexpr int KS = DK / 16;       // k-steps of Q·Kᵀ
  constexpr int NT = DV / 8;        // n8 column tiles of O
  constexpr int KRS = DK + PF_PAD;  // shared row strides in halves
  constexpr int VRS = DV + PF_PAD;
  constexpr int KCH = DK / 8;       // 16-byte chunks per K row
  constexpr int VCH = DV / 8;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned short* const ks = (unsigned short*)smem_raw;        // [STAGES][KEYS][KRS]
  unsigned short* const vs = ks + PF_STAGES * PF_KEYS * KRS;   // [STAGES][KEYS][VRS]

  const int split = blockIdx.x;
  const int n_kv = p.heads / p.group;
  const int kv = blockIdx.y % n_kv;
  const int qtile = blockIdx.y / n_kv;
  const int seq = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int first = p.first_pos[seq];
  const int kv_rows = p.tokens * p.group;
  const int warp_row0 = qtile * PF_ROWS + warp * 16;

  // This lane's two rows: g and g + 8 of the warp's 16.
  int qpos[2];
  long long grow[2];
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const int i = warp_row0 + g + 8 * half;
    const int t = i / p.group;
    qpos[half] = i < kv_rows ? first + t : -1;  // -1: a padding row, every key masked
    grow[half] = ((long long)seq * p.tokens + t) * p.heads + kv * p.group + i % p.group;
  }
  const int cta_last = min(kv_rows, (qtile + 1) * PF_ROWS) - 1;
  const KeyRange keys = split_keys(p, split, first + cta_last / p.group + 1);
  const int warp_last = min(kv_rows - 1, warp_row0 + 15);
  // Keys up to warp_min_pos are visible to every row of the warp; past warp_max_pos, to none.
  const int warp_max_pos = warp_row0 < kv_rows ? first + warp_last / p.group : -1;
  const int warp_min_pos = first + warp_row0 / p.group;
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  const int tiles = keys.end > keys.begin ? (keys.end - keys.begin + PF_KEYS - 1) / PF_KEYS : 0;

  // Tile i (cache block keys.begin / 64 + i) into stage i % 2; keys past keys.end are zero-filled
  // so that no stale value, NaN included, meets a zero probability in P·V.
  auto load_tile = [&](int i) {
    const int tok0 = keys.begin + i * PF_KEYS;
    const unsigned char* block = p.pool + (long long)table[tok0 / PF_KEYS] * p.block_bytes;
    const unsigned short* k = (const unsigned short*)(block + p.a_offset) + kv * p.a_kv_stride;
    const unsigned short* v = (const unsigned short*)(block + p.v_offset) + kv * p.v_kv_stride;
    unsigned short* kd = ks + (i % PF_STAGES) * PF_KEYS * KRS;
    unsigned short* vd = vs + (i % PF_STAGES) * PF_KEYS * VRS;
    const int nvalid = keys.end - tok0;
#pragma unroll
    for (int c = tid; c < PF_KEYS * KCH; c += PF_THREADS) {
      const int r = c / KCH, col = (c % KCH) * 8;
      const bool ok = r < nvalid;
      cp_async16(kd + r * KRS + col, k + (ok ? r * p.a_row + col : 0), ok);
    }
#pragma unroll
    for (int c = tid; c < PF_KEYS * VCH; c += PF_THREADS) {
      const int r = c / VCH, col = (c % VCH) * 8;
      const bool ok = r < nvalid;
      cp_async16(vd + r * VRS + col, v + (ok ? r * p.v_row + col : 0), ok);
    }
    asm volatile("cp.async.commit_group;\n" ::);
  };
  if (tiles > 0) load_tile(0);

  // Q as A fragments: a[0] row g cols 2tq..+1, a[1] row g+8, a[2]/a[3] the same 8 columns on.
  unsigned qf[KS][4];
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const float* q = p.qa + grow[half] * DK + 2 * tq;
    const bool live = qpos[half] >= 0;
#pragma unroll
    for (int s = 0; s < KS; s++) {
      const float2 lo = live ? *(const float2*)(q + s * 16) : make_float2(0.f, 0.f);
      const float2 hi = live ? *(const float2*)(q + s * 16 + 8) : make_float2(0.f, 0.f);
      qf[s][half] = pf_pack<DT>(lo.x, lo.y);
      qf[s][2 + half] = pf_pack<DT>(hi.x, hi.y);
    }
  }

  float o[NT][4];
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int c = 0; c < 4; c++) o[n][c] = 0.f;
  float m[2] = {MLA4J_NEG_INF, MLA4J_NEG_INF};  // running maximum per row, base 2
  float l[2] = {0.f, 0.f};                      // this lane's part of the row sums
  const float scale2 = p.scale * MLA_LOG2E;

  for (int i = 0; i < tiles; i++) {
    if (i + 1 < tiles) {
      load_tile(i + 1);
    } else {
      asm volatile("cp.async.commit_group;\n" ::);
    }
    asm volatile("cp.async.wait_group 1;\n" ::);
    __syncthreads();
    const int tok0 = keys.begin + i * PF_KEYS;
    if (tok0 <= warp_max_pos) {  // else every key of the tile is in this warp's future
      const unsigned short* kt = ks + (i % PF_STAGES) * PF_KEYS * KRS;
      const unsigned short* vt = vs + (i % PF_STAGES) * PF_KEYS * VRS;
      float s[8][4];
#pragma unroll
      for (int n = 0; n < 8; n++)
#pragma unroll
        for (int c = 0; c < 4; c++) s[n][c] = 0.f;
#pragma unroll
      for (int k = 0; k < KS; k++) {
#pragma unroll
        for (int np = 0; np < 4; np++) {
          unsigned b[4];
          ldsm_x4(b, kt + (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * KRS + k * 16 +
                         ((lane >> 3) & 1) * 8);
          pf_mma<DT>(s[2 * np], qf[k], b[0], b[1]);
          pf_mma<DT>(s[2 * np + 1], qf[k], b[2], b[3]);
        }
      }
      const bool masked = tok0 + PF_KEYS - 1 > warp_min_pos || tok0 + PF_KEYS > keys.end;
      unsigned pk[8][2];
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int limit = min(qpos[half], keys.end - 1);  // last visible key of the row
        float mx = MLA4J_NEG_INF;
#pragma unroll
        for (int n = 0; n < 8; n++)
#pragma unroll
          for (int e = 0; e < 2; e++) {
            float x = s[n][2 * half + e] * scale2;
            if (masked && tok0 + n * 8 + 2 * tq + e > limit) x = MLA4J_NEG_INF;
            s[n][2 * half + e] = x;
            mx = fmaxf(mx, x);
          }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m[half], mx);
        const float m_use = m_new == MLA4J_NEG_INF ? 0.f : m_new;  // no key yet: all p are 0
        const float alpha = exp2_approx(m[half] - m_use);
        m[half] = m_new;
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < 8; n++) {
          pk[n][half] = pf_pack<DT>(exp2_approx(s[n][2 * half] - m_use),
                                    exp2_approx(s[n][2 * half + 1] - m_use));
          sum += pf_pair_sum<DT>(pk[n][half]);
        }
        l[half] = l[half] * alpha + sum;
#pragma unroll
        for (int n = 0; n < NT; n++) {
          o[n][2 * half] *= alpha;
          o[n][2 * half + 1] *= alpha;
        }
      }
#pragma unroll
      for (int k = 0; k < PF_KEYS / 16; k++) {
        const unsigned a[4] = {pk[2 * k][0], pk[2 * k][1], pk[2 * k + 1][0], pk[2 * k + 1][1]};
#pragma unroll
        for (int np = 0; np < NT / 2; np++) {
          unsigned b[4];
          ldsm_x4_trans(b, vt + (k * 16 + (lane & 15)) * VRS + np * 16 + (lane >> 4) * 8);
          pf_mma<DT>(o[2 * np], a, b[0], b[1]);
          pf_mma<DT>(o[2 * np + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // the next iteration's copies overwrite this stage
  }
  asm volatile("cp.async.wait_group 0;\n" ::);

  const long long rows = (long long)p.seqs * p.tokens * p.heads;
#pragma unroll
  for (int half = 0; half < 2; half++) {
    float lsum = l[half];
    lsum += __shfl_xor_sync(0xffffffffu, lsum, 1);
    lsum += __shfl_xor_sync(0xffffffffu, lsum, 2);
    if (qpos[half] < 0) continue;
    const float scale = p.splits > 1 ? 1.f : (lsum > 0.f ? 1.f / lsum : 0.f);
    float* dst = p.splits == 1 ? p.out + grow[half] * DV
                               : p.part_acc + ((long long)split * rows + grow[half]) * DV;
#pragma unroll
    for (int n = 0; n < NT; n++) {
      *(float2*)(dst + n * 8 + 2 * tq) =
          make_float2(o[n][2 * half] * scale, o[n][2 * half + 1] * scale);
    }
    if (p.splits > 1 && tq == 0) {
      const long long r = (long long)split * rows + grow[half];
      p.part_ml[r * 2] = m[half] * MLA_LN2;  // the merge works in base e; -inf stays -inf
      p.part_ml[r * 2 + 1] = lsum;
    }
  }
}

#define PF_KERNEL(NAME, DT, DK, DV, SUFFIX)                                    \
  extern "C" __global__ void __launch_bounds__(PF_THREADS, 2)                  \
  mla4j_mha_prefill_##NAME##_d##SUFFIX(const PagedAttnParams p) {              \
    mha_prefill<DT, DK, DV>(p);                                                \
  }
#define PF_KERNELS(NAME, DT)                                                   \
  PF_KERNEL(NAME, DT, 64, 64, 64) PF_KERNEL(NAME, DT, 128, 128, 128)           \
  PF_KERNEL(NAME, DT, 192, 128, 192_v128)
// d192_v128: DeepSeek's naive form, keys [k_R (64) | k_N (128)] and values of 128
PF_KERNELS(bf16, MLA4J_BF16)
PF_KERNELS(f16, MLA4J_F16)
