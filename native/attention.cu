// Paged causal attention over 64-token cache blocks, split-KV, FP32 accumulation: absorbed MLA
// (latent + rope keys) and MHA/GQA (keys + values) through one parameter struct
// (PagedAttnParams, mla4j_params.h), plus the log-sum-exp merge of split partial states.
//
// CTA = (key range split, group of HG heads, query token). Per tile of TK cached tokens it
// stages the tile in shared memory as float, computes the HG x TK scores (one warp per score,
// lanes over the reduction), updates the online softmax per head and folds the tile's values
// into acc [HG][v_width] held in shared memory.
//
// Q (the _q instances): parts may be quantized (PagedAttnParams x_quant); their tile elements are
// code · scale in FP32, exact (mla4j_quant.h), so the arithmetic after staging is unchanged. The
// plain instances compile without that branch.
#include "mla4j_device.h"
#include "mla4j_quant.h"

// Stages columns [col0, col0 + span) of one token row of a part into dst (float, lanes over
// columns): a plain row of DT (slot·row + col0 elements into part), or a quantized row of kind
// quant (codes at part, BF16 scales at scales). The geometry is re-read from the parameters per
// row rather than kept in registers across the tile loop, and the quantized loops are not
// unrolled; the _q instances still need 72 registers (3 CTAs of 256 threads per SM, launch
// bounds below) where 64 spilled on sm_80/89. The plain instances stay at 64.
template <int DT, bool Q>
__device__ __forceinline__ void stage_row(float* dst, const unsigned char* part,
                                          const unsigned char* scales, int quant, int seg,
                                          int group, int code_row, int scale_row, int slot,
                                          int row, int col0, int span, int lane) {
  if (!Q || quant == MLA4J_Q_NONE) {
    const long long r0 = (long long)slot * row + col0;
    for (int c = lane; c < span; c += 32) {
      dst[c] = load_elem<DT>(part, r0 + c);
    }
    return;
  }
  const QuantRow q = quant_row(quant, row, seg, group, code_row, scale_row);
  const unsigned char* codes = part + (long long)slot * code_row;
  const unsigned short* sc = (const unsigned short*)scales + (long long)slot * scale_row;
  if (quant == MLA4J_Q_INT8) {
#pragma unroll 1
    for (int c = lane; c < span; c += 32) {
      dst[c] = quant_elem<MLA4J_Q_INT8>(codes, sc, q, col0 + c);
    }
  } else if (quant == MLA4J_Q_INT4) {
#pragma unroll 1
    for (int c = lane; c < span; c += 32) {
      dst[c] = quant_elem<MLA4J_Q_INT4>(codes, sc, q, col0 + c);
    }
  } else {
#pragma unroll 1
    for (int c = lane; c < span; c += 32) {
      dst[c] = quant_elem<MLA4J_Q_FP8>(codes, sc, q, col0 + c);
    }
  }
}

template <int DT, bool Q>
__device__ void paged_attention(const PagedAttnParams& p) {
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  extern __shared__ float smem[];
  const int HG = p.heads_per_cta;
  const int TK = p.tile_tokens;
  const int split = blockIdx.x;
  const int h0 = blockIdx.y * HG;
  const int token_row = blockIdx.z;  // seq·T + t
  const int seq = token_row / p.tokens;
  const int t = token_row - seq * p.tokens;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int warps = blockDim.x >> 5;

  const int kv0 = h0 / p.group;
  const int nkv = (h0 + HG - 1) / p.group - kv0 + 1;
  const int a_span = p.a_kv_stride * (nkv - 1) + p.a_width;
  const int b_span = p.b_kv_stride * (nkv - 1) + p.b_width;
  const int v_span = p.value_is_a ? 0 : p.v_kv_stride * (nkv - 1) + p.v_width;

  float* qa_s = smem;                       // [HG][a_width]
  float* qb_s = qa_s + HG * p.a_width;      // [HG][b_width]
  float* acc = qb_s + HG * p.b_width;       // [HG][v_width]
  float* tile_a = acc + HG * p.v_width;     // [TK][a_span]
  float* tile_b = tile_a + TK * a_span;     // [TK][b_span]
  float* tile_v = tile_b + TK * b_span;     // [TK][v_span]
  float* scores = tile_v + TK * v_span;     // [HG][TK]
  float* m_s = scores + HG * TK;            // [HG]
  float* l_s = m_s + HG;                    // [HG]
  float* alpha_s = l_s + HG;                // [HG]
  const float* vals = p.value_is_a ? tile_a : tile_v;
  const int vals_span = p.value_is_a ? a_span : v_span;

  const long long row0 = (long long)token_row * p.heads + h0;
  for (int i = tid; i < HG * p.a_width; i += blockDim.x) {
    qa_s[i] = p.qa[row0 * p.a_width + i];
  }
  for (int i = tid; i < HG * p.b_width; i += blockDim.x) {
    qb_s[i] = p.qb[row0 * p.b_width + i];
  }
  for (int i = tid; i < HG * p.v_width; i += blockDim.x) {
    acc[i] = 0.f;
  }
  if (tid < HG) {
    m_s[tid] = MLA4J_NEG_INF;
    l_s[tid] = 0.f;
  }

  // causal, and below key_limit: keys [0, key_end)
  const int key_end = min(p.first_pos[seq] + t + 1, p.key_limit);
  const KeyRange keys = split_keys(p, split, key_end);
  const int tok_begin = keys.begin, tok_end = keys.end;
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  __syncthreads();

  for (int tok0 = tok_begin; tok0 < tok_end; tok0 += TK) {
    const int n = min(TK, tok_end - tok0);
    for (int tt = warp; tt < n; tt += warps) {
      const int pos = tok0 + tt;
      const unsigned char* block = p.pool + (long long)table[pos / MLA4J_BLOCK_TOKENS] * p.block_bytes;
      const int slot = pos % MLA4J_BLOCK_TOKENS;
      stage_row<DT, Q>(tile_a + tt * a_span, block + p.a_offset, block + p.a_scales, p.a_quant,
                       p.a_seg, p.quant_group, p.a_code_row, p.a_scale_row, slot, p.a_row,
                       kv0 * p.a_kv_stride, a_span, lane);
      stage_row<DT, Q>(tile_b + tt * b_span, block + p.b_offset, block + p.b_scales, p.b_quant,
                       p.b_seg, p.quant_group, p.b_code_row, p.b_scale_row, slot, p.b_row,
                       kv0 * p.b_kv_stride, b_span, lane);
      stage_row<DT, Q>(tile_v + tt * v_span, block + p.v_offset, block + p.v_scales, p.v_quant,
                       p.v_seg, p.quant_group, p.v_code_row, p.v_scale_row, slot, p.v_row,
                       kv0 * p.v_kv_stride, v_span, lane);
    }
    __syncthreads();

    for (int pair = warp; pair < HG * n; pair += warps) {
      const int hl = pair / n;
      const int tt = pair - hl * n;
      const int kvl = (h0 + hl) / p.group - kv0;
      const float* qa = qa_s + hl * p.a_width;
      const float* ka = tile_a + tt * a_span + kvl * p.a_kv_stride;
      float s = 0.f;
      for (int j = lane; j < p.a_width; j += 32) {
        s += qa[j] * ka[j];
      }
      const float* qb = qb_s + hl * p.b_width;
      const float* kb = tile_b + tt * b_span + kvl * p.b_kv_stride;
      for (int j = lane; j < p.b_width; j += 32) {
        s += qb[j] * kb[j];
      }
      s = warp_sum(s);
      if (lane == 0) {
        scores[hl * TK + tt] = s * p.scale;
      }
    }
    __syncthreads();

    if (tid < HG) {
      float* sc = scores + tid * TK;
      const float m_old = m_s[tid];
      float m_new = m_old;
      for (int tt = 0; tt < n; tt++) {
        m_new = fmaxf(m_new, sc[tt]);
      }
      const float alpha = m_old == MLA4J_NEG_INF ? 0.f : expf(m_old - m_new);
      float sum = 0.f;
      for (int tt = 0; tt < n; tt++) {
        const float e = expf(sc[tt] - m_new);
        sc[tt] = e;
        sum += e;
      }
      l_s[tid] = l_s[tid] * alpha + sum;
      m_s[tid] = m_new;
      alpha_s[tid] = alpha;
    }
    __syncthreads();

    for (int i = tid; i < HG * p.v_width; i += blockDim.x) {
      const int hl = i / p.v_width;
      const int j = i - hl * p.v_width;
      const int kvl = (h0 + hl) / p.group - kv0;
      const float* pr = scores + hl * TK;
      const float* vv = vals + kvl * p.v_kv_stride + j;
      float a = acc[i] * alpha_s[hl];
      for (int tt = 0; tt < n; tt++) {
        a += pr[tt] * vv[tt * vals_span];
      }
      acc[i] = a;
    }
    __syncthreads();
  }

  if (p.part_acc == nullptr) {  // one split: the normalized output
    for (int i = tid; i < HG * p.v_width; i += blockDim.x) {
      const float l = l_s[i / p.v_width];
      p.out[row0 * p.v_width + i] = l > 0.f ? acc[i] / l : 0.f;
    }
  } else {
    const long long rows = (long long)p.seqs * p.tokens * p.heads;
    const long long base = (long long)split * rows + row0;
    for (int i = tid; i < HG * p.v_width; i += blockDim.x) {
      p.part_acc[base * p.v_width + i] = acc[i];
    }
    if (tid < HG) {
      p.part_ml[(base + tid) * 2] = m_s[tid];
      p.part_ml[(base + tid) * 2 + 1] = l_s[tid];
    }
  }
}

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS)
mla4j_paged_attention_f32(const PagedAttnParams p) { paged_attention<MLA4J_F32, false>(p); }

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS)
mla4j_paged_attention_bf16(const PagedAttnParams p) { paged_attention<MLA4J_BF16, false>(p); }

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS)
mla4j_paged_attention_f16(const PagedAttnParams p) { paged_attention<MLA4J_F16, false>(p); }

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS, 3)
mla4j_paged_attention_f32_q(const PagedAttnParams p) { paged_attention<MLA4J_F32, true>(p); }

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS, 3)
mla4j_paged_attention_bf16_q(const PagedAttnParams p) { paged_attention<MLA4J_BF16, true>(p); }

extern "C" __global__ void __launch_bounds__(MLA4J_ATTN_THREADS, 3)
mla4j_paged_attention_f16_q(const PagedAttnParams p) { paged_attention<MLA4J_F16, true>(p); }

// out[row] = Σ_s acc_s·e^(m_s - M) / Σ_s l_s·e^(m_s - M), M = max_s m_s.
// CTA = (row, slice of MLA4J_MERGE_SLICE columns); a warp is a split group of 32 column units (a
// float4 each, or 4 scalars when the rows are not float4-aligned), and group g of G adds splits
// g, g + G, ... At batch 1 there are 32-128 rows of 64-128 splits and the merge is latency-bound:
// a CTA of 4 warps, each a chain of 4 loads in flight, read 8 MB of partials at 0.7 TB/s (ncu).
// Here each thread issues its loads MLA4J_MERGE_AHEAD splits at a time, the first batch before
// the weights are known, so that its latency overlaps the max/sum reductions.
#define MLA4J_MERGE_CHUNK 512
#define MLA4J_MERGE_UNITS 32
template <int G>
__device__ __forceinline__ float merge_block_reduce(float v, bool is_max, float* red) {
  for (int o = 16; o > 0; o >>= 1) {
    const float x = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, x) : v + x;
  }
  __syncthreads();  // red may still be read by a previous reduction
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < G; w++) v = is_max ? fmaxf(v, red[w]) : v + red[w];
  return v;
}

// Columns c0..c0+3 of one split's partial row (zeros past width).
template <bool VEC>
__device__ __forceinline__ float4 merge_load(const float* acc, int c0, int width) {
  if (VEC) return c0 < width ? __ldg((const float4*)(acc + c0)) : make_float4(0.f, 0.f, 0.f, 0.f);
  float4 v;
  v.x = c0 < width ? __ldg(acc + c0) : 0.f;
  v.y = c0 + 1 < width ? __ldg(acc + c0 + 1) : 0.f;
  v.z = c0 + 2 < width ? __ldg(acc + c0 + 2) : 0.f;
  v.w = c0 + 3 < width ? __ldg(acc + c0 + 3) : 0.f;
  return v;
}

// MLA4J_MERGE_AHEAD splits of this thread's group from split s on (zeros past n): all loads
// are issued before any is used.
template <bool VEC, int G>
__device__ __forceinline__ void merge_batch(float4 (&x)[MLA4J_MERGE_AHEAD], const float* acc,
                                            long long stride, int s, int n, int c0, int width) {
#pragma unroll
  for (int j = 0; j < MLA4J_MERGE_AHEAD; j++) {
    const int sj = s + j * G;
    x[j] = sj < n ? merge_load<VEC>(acc + sj * stride, c0, width) : make_float4(0.f, 0.f, 0.f, 0.f);
  }
}

__device__ __forceinline__ void merge_add(float4& a, float4 x, float ws) {
  if (ws != 0.f) {  // a split that saw no key adds nothing, NaN or not
    a.x = fmaf(x.x, ws, a.x);
    a.y = fmaf(x.y, ws, a.y);
    a.z = fmaf(x.z, ws, a.z);
    a.w = fmaf(x.w, ws, a.w);
  }
}

template <int G>
struct MergeSmem {
  float w[MLA4J_MERGE_CHUNK];  // weights e^(m_s - M) of a chunk of splits
  float red[G];
  float4 part[G][MLA4J_MERGE_UNITS];
};

// G split groups (warps) per CTA.
template <bool VEC, int G>
__device__ void merge_splits(const MergeParams& p, MergeSmem<G>& sm) {
  constexpr int threads = 32 * G;
  float* const w = sm.w;
  float* const red = sm.red;
  const long long row = blockIdx.x;
  const float* ml = p.part_ml + row * 2;
  const long long ml_stride = (long long)p.rows * 2;
  const long long acc_stride = (long long)p.rows * p.width;
  const int unit = threadIdx.x % MLA4J_MERGE_UNITS, group = threadIdx.x / MLA4J_MERGE_UNITS;
  const int c0 = blockIdx.y * MLA4J_MERGE_SLICE + unit * 4;
  const float* acc = p.part_acc + row * p.width;

  float4 x[MLA4J_MERGE_AHEAD];
  merge_batch<VEC, G>(x, acc, acc_stride, group, min(p.splits, MLA4J_MERGE_CHUNK), c0, p.width);

  float m = MLA4J_NEG_INF;
  for (int s = threadIdx.x; s < p.splits; s += threads) m = fmaxf(m, ml[s * ml_stride]);
  m = merge_block_reduce<G>(m, true, red);
  float l = 0.f;
  for (int s = threadIdx.x; s < p.splits; s += threads) {
    const float ms = ml[s * ml_stride];
    if (ms != MLA4J_NEG_INF) l += ml[s * ml_stride + 1] * expf(ms - m);
  }
  l = merge_block_reduce<G>(l, false, red);
  const float inv = l > 0.f ? 1.f / l : 0.f;

  float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int s0 = 0; s0 < p.splits; s0 += MLA4J_MERGE_CHUNK) {
    const int n = min(MLA4J_MERGE_CHUNK, p.splits - s0);
    __syncthreads();
    for (int s = threadIdx.x; s < n; s += threads) {
      const float ms = ml[(s0 + s) * ml_stride];
      w[s] = ms == MLA4J_NEG_INF ? 0.f : expf(ms - m);
    }
    __syncthreads();
    const float* acc0 = acc + s0 * acc_stride;
    if (s0 > 0) merge_batch<VEC, G>(x, acc0, acc_stride, group, n, c0, p.width);
    for (int s = group;;) {
#pragma unroll
      for (int j = 0; j < MLA4J_MERGE_AHEAD; j++) {
        const int sj = s + j * G;
        if (sj < n) merge_add(a, x[j], w[sj]);
      }
      s += MLA4J_MERGE_AHEAD * G;
      if (s >= n) break;
      merge_batch<VEC, G>(x, acc0, acc_stride, s, n, c0, p.width);
    }
  }
  sm.part[group][unit] = a;
  __syncthreads();
  if (group == 0 && c0 < p.width) {
    for (int q = 1; q < G; q++) {
      const float4 b = sm.part[q][unit];
      a.x += b.x;
      a.y += b.y;
      a.z += b.z;
      a.w += b.w;
    }
    float* o = p.out + row * p.width + c0;
    if (VEC) {
      *(float4*)o = make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
    } else {
      o[0] = a.x * inv;
      if (c0 + 1 < p.width) o[1] = a.y * inv;
      if (c0 + 2 < p.width) o[2] = a.z * inv;
      if (c0 + 3 < p.width) o[3] = a.w * inv;
    }
  }
}

template <int G>
__device__ __forceinline__ void merge_kernel(const MergeParams& p) {
  __shared__ MergeSmem<G> sm;
  grid_dependency_wait();  // launched behind the attention grid: its partials are complete here
  const bool vec = (p.width & 3) == 0 && ((((unsigned long long)p.part_acc) | ((unsigned long long)p.out)) & 15) == 0;
  if (vec) {
    merge_splits<true, G>(p, sm);
  } else {
    merge_splits<false, G>(p, sm);
  }
}

// 8 split groups (256 threads); 4 CTAs per SM at 64 registers.
extern "C" __global__ void __launch_bounds__(MLA4J_MERGE_THREADS, 4)
mla4j_merge_splits(const MergeParams p) { merge_kernel<MLA4J_MERGE_THREADS / 32>(p); }

// One split group (a warp) for at most MLA4J_MERGE_AHEAD splits (batch >= 64 splits 2-8 ways):
// 8192 CTAs of 256 threads, 6 warps idle, were 16 waves (+10% at Llama d_kv 16, batch 64, 4K).
extern "C" __global__ void __launch_bounds__(32, 24)  // 24: the most CTAs per SM that sm_89 allows
mla4j_merge_few_splits(const MergeParams p) { merge_kernel<1>(p); }
