// MHA/GQA attention over a paged BF16/F16 cache, memory-bound fast path (v2). Same parameter
// struct (PagedAttnParams) and split-state layout as the generic kernel in attention.cu, so the
// merge kernel there finishes split runs.
//
// CTA = (key range split, G query heads sharing one kv head, query token), 4 warps. Each lane
// owns 8 consecutive columns of a row (one 16-byte load); D/8 lanes cover one K or V row, so a
// warp reads 32/(D/8) rows per load instruction, and each lane issues UNROLL K and UNROLL V loads
// before the first use (16 x 16 bytes in flight per lane). Each group of D/8 lanes keeps its own
// online-softmax state for the G heads in registers and reads every K/V row once for all G heads;
// the states of lane groups and warps are merged at the end.
//
// Quantized K and V (mla4j_mha_decode_{int8,fp8,int4}_*: INT8, E4M3 or INT4 codes with BF16 group
// scales, QuantizedLayout): a lane's 8 columns (16 in the _w16 instances, see mha_decode) lie in
// one scale group (the host asks G % 8 == 0, INT4 G % 16 == 0, and G | d_h), so per row it reads
// 8 code bytes (INT4: the 8 bytes whose low or high nibbles are its columns) and one scale of K
// and of V. INT8 and INT4 codes widen to float exactly with integer and FP32 add only; E4M3 codes
// with the hardware's E4M3-pair-to-FP16 cvt and an FP16-to-FP32 cvt on sm_89+, 10-14% faster
// than the about six integer and FP32 instructions a code (by PTX count) they replaced (H100,
// native/results/h100-stop32-mha-fp8-cvt-ab.log). The K scale multiplies the lane's partial dot
// product and the V scale the probability, so the arithmetic is the plain kernel's FP32.
#include "mla4j_device.h"
#include "mla4j_mma_quant.h"
#include "mla4j_params.h"

#define MHA_WARPS 4
#define MHA_THREADS (MHA_WARPS * 32)
// Rows each lane group loads before computing: enough bytes in flight to cover DRAM latency.
// Quantized instances too: 8 at G <= 2 ran 17-31% slower, 16 for INT4 2.3x (INT8 batch 64, 32K:
// 7,432 -> 8,693 us; H100, native/results/h100-stop31-mha-quant-unroll-ab.log).
#define MHA_UNROLL 4

// 8 cache elements (16 bytes) widened to float.
template <int DT>
__device__ __forceinline__ void widen8(const uint4 raw, float* f) {
  const unsigned int w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; i++) {
    if (DT == MLA4J_BF16) {
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    } else {
      f[2 * i] = from_f16((unsigned short)(w[i] & 0xffffu));
      f[2 * i + 1] = from_f16((unsigned short)(w[i] >> 16));
    }
  }
}

// FP16 half h (0: low, 1: high) of a pair as FP32, exactly.
__device__ __forceinline__ float half_to_float(unsigned pair, int h) {
  float x;
  asm("cvt.f32.f16 %0, %1;" : "=f"(x) : "h"((unsigned short)(pair >> (16 * h))));
  return x;
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define MHA_FP8_CVT true
#else
#define MHA_FP8_CVT false
#endif

// 8 codes (raw.x, raw.y) as exact floats, unscaled. INT8: biased into the low byte of 2^23's
// mantissa, 2^23 + 128 subtracted. E4M3: two codes to an FP16 pair with one cvt (sm_89+; FP16
// holds every E4M3 value, subnormals included), each half to FP32; before sm_89, exponent and
// mantissa moved to FP32's low exponent bits, times 2^120 (E4M3 subnormals land on FP32
// subnormals, which FMUL takes exactly: no flush to zero here). INT4: the nibbles at shift
// (0: low, 4: high), biased by 8 the same way.
template <int Q>
__device__ __forceinline__ void widen8_codes(const uint4 raw, int shift, float* f) {
  const unsigned int w[2] = {raw.x, raw.y};
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if constexpr (Q == MLA4J_Q_FP8 && MHA_FP8_CVT) {
      unsigned lo, hi;
      mlq_widen<MLA4J_Q_FP8>(w[i], lo, hi);
      f[4 * i] = half_to_float(lo, 0);
      f[4 * i + 1] = half_to_float(lo, 1);
      f[4 * i + 2] = half_to_float(hi, 0);
      f[4 * i + 3] = half_to_float(hi, 1);
    } else {
#pragma unroll
      for (int b = 0; b < 4; b++) {
        if constexpr (Q == MLA4J_Q_INT8) {
          const unsigned int x = __byte_perm(w[i] ^ 0x80808080u, 0x4b000000u, 0x7540 + b);
          f[4 * i + b] = __uint_as_float(x) - 8388736.f;
        } else if constexpr (Q == MLA4J_Q_FP8) {
          const unsigned int c = w[i] >> (8 * b);
          f[4 * i + b] = __uint_as_float(((c & 0x7fu) << 20) | ((c & 0x80u) << 24)) * 0x1p120f;
        } else {
          unsigned int x;
          asm("lop3.b32 %0, %1, %2, %3, 0x6a;"
              : "=r"(x) : "r"(w[i] >> (8 * b + shift)), "r"(0xfu), "r"(0x4b000008u));
          f[4 * i + b] = __uint_as_float(x) - 8388616.f;
        }
      }
    }
  }
}

// Folds state (m2, l2, a2) into (m, l, a); either may be empty (m = -inf).
template <int G, int W>
__device__ __forceinline__ void merge_state(float* m, float* l, float (*a)[W], const float* m2,
                                            const float* l2, float (*a2)[W]) {
#pragma unroll
  for (int g = 0; g < G; g++) {
    const float mn = fmaxf(m[g], m2[g]);
    const float s1 = m[g] == MLA4J_NEG_INF ? 0.f : expf(m[g] - mn);
    const float s2 = m2[g] == MLA4J_NEG_INF ? 0.f : expf(m2[g] - mn);
    m[g] = mn;
    l[g] = l[g] * s1 + l2[g] * s2;
#pragma unroll
    for (int j = 0; j < W; j++) {
      a[g][j] = a[g][j] * s1 + a2[g][j] * s2;
    }
  }
}

// INT4 in 16-column lanes: column j of the lane (run j / 8, byte j % 4 of word (j % 8) / 4) is
// the nibble at bit 8·(j % 4) + 4·(j / 8) of its word, widened where it lies (or 12 bits lower,
// above bit 16, where 4 bits would leave FP32's mantissa) as n·2^p, p = int4_w16_shift(j). That
// costs one LOP3 and one FADD per code, and one shift per word, where shifting each nibble down
// first costs three. The caller scales queries by 2^-p and the accumulated values back by 2^-p:
// exact powers of two, so the results are those of unscaled codes, bit for bit.
__host__ __device__ constexpr int int4_w16_shift(int j) {
  return 8 * (j % 4) + 4 * (j / 8) - (8 * (j % 4) + 4 * (j / 8) <= 16 ? 0 : 12);
}

// 2^-int4_w16_shift(j): the exact factor that takes column j's query to the codes' units, and its
// accumulated value back.
__host__ __device__ constexpr float int4_w16_unscale(int j) {
  return 1.f / (float)(1u << int4_w16_shift(j));
}

__device__ __forceinline__ void widen16_int4_shifted(const uint4 raw, float* f) {
  const unsigned int w[2] = {raw.x, raw.y};
#pragma unroll
  for (int i = 0; i < 2; i++) {
    const unsigned int high = w[i] >> 12;
#pragma unroll
    for (int r = 0; r < 2; r++) {
#pragma unroll
      for (int b = 0; b < 4; b++) {
        const int j = 8 * r + 4 * i + b;
        const int p = int4_w16_shift(j);
        const unsigned int src = 8 * b + 4 * r <= 16 ? w[i] : high;
        const unsigned int x = (src & (0xfu << p)) ^ (0x4b000000u | (8u << p));
        f[j] = __uint_as_float(x) - (8388608.f + 8.f * (float)(1u << p));
      }
    }
  }
}

// A lane's W quantized codes of one row, as loaded, widened to exact floats in runs of 8
// columns: INT8/E4M3 16 bytes (raw.x..w) in column order, unscaled; INT4 16: the low nibbles of
// its 8 bytes, then the high ones (G/2 columns on), times 2^int4_w16_shift(j).
template <int Q, int W>
__device__ __forceinline__ void widen_codes(const uint4 raw, int nibble, float* f) {
  if constexpr (W == 8) {
    widen8_codes<Q>(raw, nibble, f);
  } else if constexpr (Q == MLA4J_Q_INT4) {
    widen16_int4_shifted(raw, f);
  } else {
    widen8_codes<Q>(raw, 0, f);
    widen8_codes<Q>(make_uint4(raw.z, raw.w, 0u, 0u), 0, f + 8);
  }
}

// W: columns per lane, in runs of 8 starting at col[r]. 8 for plain caches (one 16-byte load);
// 16 for quantized instances of G <= 2, so that one load, one scale, one shuffle tree and one
// softmax update per lane and row serve 16 columns, not 8 (the 8-column lanes issue about three
// times the plain kernel's instructions per byte, and INT4 six).
template <int DT, int D, int G, int Q = MLA4J_Q_NONE, int W = 8>
__device__ void mha_decode(const PagedAttnParams& p) {
  constexpr bool QZ = Q != MLA4J_Q_NONE;
  static_assert(W == 8 || (W == 16 && QZ), "16-column lanes read codes");
  constexpr int RUNS = W / 8;
  constexpr bool INT4_SHIFTED = Q == MLA4J_Q_INT4 && W == 16;  // codes widened as n·2^p
  if (p.splits > 1) grid_dependents_launch();  // lets the merge behind it take the SMs left free
  constexpr int LPR = D / W;        // lanes per row
  constexpr int RPW = 32 / LPR;     // rows per warp load
  constexpr int CHUNK = RPW * MHA_UNROLL;  // tokens per warp iteration, divides the 64-token block
  __shared__ float s_acc[MHA_WARPS][G][D];
  __shared__ float s_m[MHA_WARPS][G];
  __shared__ float s_l[MHA_WARPS][G];

  const int split = blockIdx.x;
  const int h0 = blockIdx.y * G;
  const int token_row = blockIdx.z;
  const int seq = token_row / p.tokens;
  const int t = token_row - seq * p.tokens;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int sub = lane / LPR;  // row slot inside a warp load
  const int kv = h0 / p.group;
  // Quantized: the lane's code bytes and scale index in a row of its kv head's segment (K and V
  // share the layout); INT4 groups of G keep columns i and i + G/2 in one byte
  const int qg = QZ ? p.quant_group : 1;
  const int half = qg / 2;
  int col[RUNS];
  int code_col = 0, nibble = 0;
  if constexpr (Q == MLA4J_Q_INT4 && W == 16) {
    const int b = (lane % LPR) * 8;  // the lane's 8 bytes, both nibbles, in one group
    const int gi = b / half;
    col[0] = gi * qg + (b - gi * half);
    col[1] = col[0] + half;
    code_col = kv * (D / 2) + b;
  } else {
    col[0] = (lane % LPR) * W;
    if constexpr (W == 16) col[1] = col[0] + 8;
    const int gi = col[0] / qg;
    const int in_group = col[0] - gi * qg;
    code_col = Q == MLA4J_Q_INT4
        ? kv * (D / 2) + gi * half + (in_group < half ? in_group : in_group - half)
        : kv * D + col[0];
    nibble = Q == MLA4J_Q_INT4 && in_group >= half ? 4 : 0;
  }
  const int scale_col = QZ ? kv * (D / qg) + col[0] / qg : 0;

  float q[G][W];
  const long long row0 = (long long)token_row * p.heads + h0;
#pragma unroll
  for (int g = 0; g < G; g++) {
#pragma unroll
    for (int r = 0; r < RUNS; r++) {
      const float4* src = (const float4*)(p.qa + (row0 + g) * D + col[r]);
      const float4 x = src[0];
      const float4 y = src[1];
      const float s = p.scale;
      float* qr = q[g] + 8 * r;
      qr[0] = x.x * s; qr[1] = x.y * s; qr[2] = x.z * s; qr[3] = x.w * s;
      qr[4] = y.x * s; qr[5] = y.y * s; qr[6] = y.z * s; qr[7] = y.w * s;
    }
    if constexpr (INT4_SHIFTED) {
#pragma unroll
      for (int j = 0; j < W; j++) q[g][j] *= int4_w16_unscale(j);
    }
  }
  float m[G], l[G], acc[G][W];
#pragma unroll
  for (int g = 0; g < G; g++) {
    m[g] = MLA4J_NEG_INF;
    l[g] = 0.f;
#pragma unroll
    for (int j = 0; j < W; j++) acc[g][j] = 0.f;
  }

  const int key_end = p.first_pos[seq] + t + 1;
  const KeyRange keys = split_keys(p, split, key_end);
  const int tok_begin = keys.begin, tok_end = keys.end;
  const int* table = p.block_table + (long long)seq * p.max_blocks;
  const long long k_col = (long long)kv * p.a_kv_stride + col[0];
  const long long v_col = (long long)kv * p.v_kv_stride + col[0];

  for (int base = tok_begin + warp * CHUNK; base < tok_end; base += MHA_WARPS * CHUNK) {
    const unsigned char* block =
        p.pool + (long long)table[base / MLA4J_BLOCK_TOKENS] * p.block_bytes;
    const unsigned short* kp = (const unsigned short*)(block + p.a_offset);
    const unsigned short* vp = (const unsigned short*)(block + p.v_offset);
    const int slot0 = base % MLA4J_BLOCK_TOKENS;
    uint4 kr[MHA_UNROLL], vr[MHA_UNROLL];
    float ks[MHA_UNROLL], vs[MHA_UNROLL];  // quantized: the rows' K and V scales of the lane
#pragma unroll
    for (int u = 0; u < MHA_UNROLL; u++) {
      const int slot = slot0 + u * RPW + sub;
      ks[u] = 0.f;
      vs[u] = 0.f;
      if (base + u * RPW + sub < tok_end) {
        if constexpr (QZ) {
          const unsigned char* kc = block + p.a_offset + slot * (long long)p.a_code_row + code_col;
          const unsigned char* vc = block + p.v_offset + slot * (long long)p.v_code_row + code_col;
          if constexpr (W == 16 && Q != MLA4J_Q_INT4) {  // 16 code bytes
            kr[u] = __ldg((const uint4*)kc);
            vr[u] = __ldg((const uint4*)vc);
          } else {
            const uint2 k8 = __ldg((const uint2*)kc);
            const uint2 v8 = __ldg((const uint2*)vc);
            kr[u] = make_uint4(k8.x, k8.y, 0, 0);
            vr[u] = make_uint4(v8.x, v8.y, 0, 0);
          }
          const unsigned short* kss = (const unsigned short*)(block + p.a_scales);
          const unsigned short* vss = (const unsigned short*)(block + p.v_scales);
          ks[u] = __uint_as_float(
              (unsigned int)__ldg(kss + slot * p.a_scale_row + scale_col) << 16);
          vs[u] = __uint_as_float(
              (unsigned int)__ldg(vss + slot * p.v_scale_row + scale_col) << 16);
        } else {
          kr[u] = __ldg((const uint4*)(kp + slot * (long long)p.a_row + k_col));
          vr[u] = __ldg((const uint4*)(vp + slot * (long long)p.v_row + v_col));
        }
      } else {
        kr[u] = make_uint4(0, 0, 0, 0);
        vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
    float s[G][MHA_UNROLL];
#pragma unroll
    for (int u = 0; u < MHA_UNROLL; u++) {
      float k[W];
      if constexpr (QZ) {
        widen_codes<Q, W>(kr[u], nibble, k);
      } else {
        widen8<DT>(kr[u], k);
      }
      const bool valid = base + u * RPW + sub < tok_end;
#pragma unroll
      for (int g = 0; g < G; g++) {
        float d = 0.f;
#pragma unroll
        for (int j = 0; j < W; j++) d = fmaf(q[g][j], k[j], d);
        if constexpr (QZ) d *= ks[u];  // the lane's columns share one K scale
#pragma unroll
        for (int o = LPR / 2; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[g][u] = valid ? d : MLA4J_NEG_INF;
      }
    }
    float v[MHA_UNROLL][W];
#pragma unroll
    for (int u = 0; u < MHA_UNROLL; u++) {
      if constexpr (QZ) {
        widen_codes<Q, W>(vr[u], nibble, v[u]);
      } else {
        widen8<DT>(vr[u], v[u]);
      }
    }
#pragma unroll
    for (int g = 0; g < G; g++) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < MHA_UNROLL; u++) mx = fmaxf(mx, s[g][u]);
      if (mx == MLA4J_NEG_INF) continue;  // no valid key for this lane group yet
      const float alpha = m[g] == MLA4J_NEG_INF ? 0.f : expf(m[g] - mx);
      m[g] = mx;
      l[g] *= alpha;
#pragma unroll
      for (int j = 0; j < W; j++) acc[g][j] *= alpha;
#pragma unroll
      for (int u = 0; u < MHA_UNROLL; u++) {
        const float e = s[g][u] == MLA4J_NEG_INF ? 0.f : expf(s[g][u] - mx);
        l[g] += e;
        const float ev = QZ ? e * vs[u] : e;  // the lane's V columns share one scale
#pragma unroll
        for (int j = 0; j < W; j++) acc[g][j] = fmaf(ev, v[u][j], acc[g][j]);
      }
    }
  }

  // Lane groups of a warp hold the same columns for different rows: merge them pairwise.
#pragma unroll
  for (int o = LPR; o < 32; o <<= 1) {
    float m2[G], l2[G], a2[G][W];
#pragma unroll
    for (int g = 0; g < G; g++) {
      m2[g] = __shfl_xor_sync(0xffffffffu, m[g], o);
      l2[g] = __shfl_xor_sync(0xffffffffu, l[g], o);
#pragma unroll
      for (int j = 0; j < W; j++) a2[g][j] = __shfl_xor_sync(0xffffffffu, acc[g][j], o);
    }
    merge_state<G, W>(m, l, acc, m2, l2, a2);
  }
  if constexpr (INT4_SHIFTED) {
#pragma unroll
    for (int g = 0; g < G; g++) {
#pragma unroll
      for (int j = 0; j < W; j++) acc[g][j] *= int4_w16_unscale(j);
    }
  }
  if (sub == 0) {
#pragma unroll
    for (int g = 0; g < G; g++) {
#pragma unroll
      for (int j = 0; j < W; j++) s_acc[warp][g][col[j / 8] + j % 8] = acc[g][j];
      if (lane == 0) {
        s_m[warp][g] = m[g];
        s_l[warp][g] = l[g];
      }
    }
  }
  __syncthreads();

  const long long rows = (long long)p.seqs * p.tokens * p.heads;
  for (int i = threadIdx.x; i < G * D; i += MHA_THREADS) {
    const int g = i / D;
    const int j = i - g * D;
    float mm = MLA4J_NEG_INF;
#pragma unroll
    for (int w = 0; w < MHA_WARPS; w++) mm = fmaxf(mm, s_m[w][g]);
    float ll = 0.f, a = 0.f;
#pragma unroll
    for (int w = 0; w < MHA_WARPS; w++) {
      const float sc = s_m[w][g] == MLA4J_NEG_INF ? 0.f : expf(s_m[w][g] - mm);
      ll += s_l[w][g] * sc;
      a += s_acc[w][g][j] * sc;
    }
    if (p.splits == 1) {
      p.out[(row0 + g) * D + j] = ll > 0.f ? a / ll : 0.f;
    } else {
      const long long r = (long long)split * rows + row0 + g;
      p.part_acc[r * D + j] = a;
      if (j == 0) {
        p.part_ml[r * 2] = mm;
        p.part_ml[r * 2 + 1] = ll;
      }
    }
  }
}

// One instance per (cache format, d_h, heads per CTA). Quantized K/V: the query and output are
// FP32 as for the plain instances; DT is unused. The _w16 instances: 16 columns per lane.
#define MHA_KERNEL_W(NAME, DT, Q, D, G, W)                                     \
  extern "C" __global__ void __launch_bounds__(MHA_THREADS)                    \
  mla4j_mha_decode_##NAME##_d##D##_g##G(const PagedAttnParams p) {             \
    mha_decode<DT, D, G, Q, W>(p);                                             \
  }
#define MHA_KERNEL(NAME, DT, Q, D, G) MHA_KERNEL_W(NAME, DT, Q, D, G, 8)
// G = 3: GQA groups of 3 (SmolLM-135M/360M) read each K/V row once for their 3 heads.
#define MHA_KERNELS(NAME, DT, Q)                                                          \
  MHA_KERNEL(NAME, DT, Q, 64, 1) MHA_KERNEL(NAME, DT, Q, 64, 2)                           \
  MHA_KERNEL(NAME, DT, Q, 64, 3) MHA_KERNEL(NAME, DT, Q, 64, 4)                           \
  MHA_KERNEL(NAME, DT, Q, 64, 8) MHA_KERNEL(NAME, DT, Q, 128, 1)                          \
  MHA_KERNEL(NAME, DT, Q, 128, 2) MHA_KERNEL(NAME, DT, Q, 128, 3)                         \
  MHA_KERNEL(NAME, DT, Q, 128, 4) MHA_KERNEL(NAME, DT, Q, 128, 8)
MHA_KERNELS(bf16, MLA4J_BF16, MLA4J_Q_NONE)
MHA_KERNELS(f16, MLA4J_F16, MLA4J_Q_NONE)
MHA_KERNELS(int8, MLA4J_BF16, MLA4J_Q_INT8)
MHA_KERNELS(fp8, MLA4J_BF16, MLA4J_Q_FP8)
MHA_KERNELS(int4, MLA4J_BF16, MLA4J_Q_INT4)
// 16-column lanes at up to 2 heads per CTA (KernelChoice.MHA_WIDE_LANE_MAX_HEADS): at 3 they
// were 7-15% slower than 8-column lanes at batch 64 (native/results/h100-stop33-mha-g3-ab.log).
#define MHA_KERNELS_W16(NAME, Q)                                                          \
  MHA_KERNEL_W(NAME##_w16, MLA4J_BF16, Q, 64, 1, 16)                                      \
  MHA_KERNEL_W(NAME##_w16, MLA4J_BF16, Q, 64, 2, 16)                                      \
  MHA_KERNEL_W(NAME##_w16, MLA4J_BF16, Q, 128, 1, 16)                                     \
  MHA_KERNEL_W(NAME##_w16, MLA4J_BF16, Q, 128, 2, 16)
MHA_KERNELS_W16(int8, MLA4J_Q_INT8)
MHA_KERNELS_W16(fp8, MLA4J_Q_FP8)
MHA_KERNELS_W16(int4, MLA4J_Q_INT4)
