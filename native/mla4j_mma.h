// Tensor-core building blocks shared by the MLA decode kernels (mla_mma.cu, mla_mma_quant.cu):
// shared-memory addresses, 16-byte cp.async, ldmatrix, BF16 m16n8k16 MMA, BF16 rounding.
#ifndef MLA4J_MMA_H
#define MLA4J_MMA_H
#include "mla4j_device.h"

typedef unsigned short bf16_t;

// The tensor-core kernels' softmax runs in base 2 (scores pre-multiplied by log2 e); split states
// leave in base e.
#define MLA_LOG2E 1.4426950408889634f
#define MLA_LN2 0.6931471805599453f

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ bf16_t to_bf16(float f) {
  // round to nearest even; inputs are finite
  unsigned u = __float_as_uint(f);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16_t)(u >> 16);
}

// 2^x by the special-function unit; x <= 0 here, results below 2^-126 flush to zero.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float from_bf16(bf16_t h) { return __uint_as_float(((unsigned)h) << 16); }

// The same copy addressed by a shared-memory byte address; without `valid`, always 16 bytes. Called
// with compile-time offsets added to one base (src + k, dst + k), ptxas folds them into the
// instruction's immediate, so a run of copies rewrites no register that an earlier copy, still
// queued, has yet to read.
__device__ __forceinline__ void cp_async16_s(unsigned dst, const void* src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}

__device__ __forceinline__ void cp_async16_s(unsigned dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  cp_async16_s(smem_addr(dst), src, valid);
}

// One thread's 16-byte chunk of tile rows r0 + j·RSTEP, j < NJ, at compile-time byte strides
// (DSTEP in shared memory, SSTEP in the cache): part 0 copies j < NJ/2, part 1 the rest, so that
// a tile can leave in two commit groups. Rows from nvalid on are zero-filled; a whole tile
// (nvalid >= TK) skips the row predicate.
template <int NJ, int RSTEP, int DSTEP, int SSTEP>
__device__ __forceinline__ void cp_async_rows(unsigned dst, const unsigned char* src, int part,
                                              int r0, int nvalid, bool whole) {
#pragma unroll
  for (int j = 0; j < NJ; j++) {
    if ((j < NJ / 2) == (part == 0)) {
      if (whole) {
        cp_async16_s(dst + j * DSTEP, src + (long long)j * SSTEP);
      } else {
        cp_async16_s(dst + j * DSTEP, src + (long long)j * SSTEP, r0 + j * RSTEP < nvalid);
      }
    }
  }
}

__device__ __forceinline__ void ldsm_x4(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x2(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x4_trans(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)));
}

// Rope k-steps [k0, k0 + kn) of m16 head tile m of the slab starting at head h0 (first kv head
// kv0): with per-head rope keys of drh > 0 columns (q_R staged block-diagonally), the 16-column
// steps of the slab's rope span that cover the tile's kv heads; else shared_steps.
__device__ __forceinline__ void mla_rope_steps(const PagedAttnParams& p, int h0, int kv0, int m,
                                               int drh, int shared_steps, int& k0, int& kn) {
  k0 = 0;
  kn = shared_steps;
  if (drh > 0) {
    const int ca = ((h0 + 16 * m) / p.group - kv0) * p.b_kv_stride;
    const int cb = ((h0 + 16 * m + 15) / p.group - kv0) * p.b_kv_stride + drh;
    k0 = ca >> 4;
    kn = ((cb + 15) >> 4) - k0;
  }
}

// log2 of the largest unnormalized probability the lazy maximum lets through: 2^8 is exact in
// BF16's and FP16's exponent range and far from overflow in FP32 sums.
#define MLA4J_LAZY_SLACK 8.f

// The lazy rescale (as FlashAttention-4's): a row's reference maximum m moves to the tile's
// maximum mx only when mx exceeds it by more than MLA4J_LAZY_SLACK; returns the reference the
// tile's probabilities use and sets alpha, O's factor (exactly 1 when m holds), and moved.
__device__ __forceinline__ float mla_lazy_max(float mx, float m, float& alpha, bool& moved) {
  moved = mx > m + MLA4J_LAZY_SLACK;
  alpha = !moved ? 1.f : m == MLA4J_NEG_INF ? 0.f : exp2_approx(m - mx);
  return moved ? mx : m;
}

// One tile's online-softmax step in base 2 for this warp's RPW rows (rows warp·RPW + j): each row
// is held by LPR = 32 / RPW lanes with TPL = TK / LPR consecutive tokens each, so that a lane's
// partial scores are vector loads and a row's maximum and sum take log2(LPR) shuffles. (Lanes over
// tokens with the rows interleaved took 5 shuffles per row and value: on the H100 the softmax was
// about a quarter of a tile's time in the quantized kernel, a chain of shuffles.) s: [KPARTS][HS]
// [SS] partial scores, summed over the k-parts and multiplied by factor(row); tokens from nvalid
// on are masked. P goes to pr [HS][PS] rounded by round() (BF16 or FP16) after a factor col(t)
// of token t (a power of two, or 1), and the row sum adds the rounded values without it (widen()),
// so that numerator and denominator agree. m, l, alpha: [HS] reference maximum (base 2), sum and
// this tile's rescale of O. LAZY: the maximum is a lazy reference (mla_lazy_max), so alpha is
// exactly 1 for a row whose reference held and the caller can skip O's rescale when all held.
template <int RPW, int TK, int HS, int SS, int PS, int KPARTS, bool LAZY, typename Factor,
          typename Col, typename Round, typename Widen>
__device__ __forceinline__ void mla_softmax_tile(const float* s, unsigned short* pr, float* m,
                                                 float* l, float* alpha, int warp, int lane,
                                                 int nvalid, Factor factor, Col col,
                                                 Round round, Widen widen) {
  constexpr int LPR = 32 / RPW;  // lanes per row
  constexpr int TPL = TK / LPR;  // consecutive tokens per lane
  static_assert(LPR * RPW == 32 && TPL * LPR == TK, "a warp's rows split evenly over its lanes");
  static_assert(SS % 4 == 0 && (TPL == 1 || TPL == 2 || TPL % 4 == 0), "vector loads");
  const int r = warp * RPW + lane / LPR;
  const int t0 = (lane % LPR) * TPL;
  float sv[TPL];
  auto load = [&](int q, float (&v)[TPL]) {  // partial q of the lane's tokens, aligned vectors
    const float* at = s + (q * HS + r) * SS + t0;
    if constexpr (TPL % 4 == 0) {
#pragma unroll
      for (int k = 0; k < TPL; k += 4) {
        const float4 x = *(const float4*)(at + k);
        v[k] = x.x;
        v[k + 1] = x.y;
        v[k + 2] = x.z;
        v[k + 3] = x.w;
      }
    } else if constexpr (TPL == 2) {
      const float2 x = *(const float2*)at;
      v[0] = x.x;
      v[1] = x.y;
    } else {
      v[0] = at[0];
    }
  };
  load(0, sv);
#pragma unroll
  for (int q = 1; q < KPARTS; q++) {
    float v[TPL];
    load(q, v);
#pragma unroll
    for (int k = 0; k < TPL; k++) sv[k] += v[k];
  }
  const float f = factor(r);
  float mx = MLA4J_NEG_INF;
#pragma unroll
  for (int k = 0; k < TPL; k++) {
    sv[k] = t0 + k < nvalid ? sv[k] * f : MLA4J_NEG_INF;
    mx = fmaxf(mx, sv[k]);
  }
#pragma unroll
  for (int off = LPR / 2; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
  const float m_old = m[r];
  bool moved;
  float a_lazy;
  const float m_new = LAZY ? mla_lazy_max(mx, m_old, a_lazy, moved) : fmaxf(m_old, mx);
  float sum = 0.f;
  unsigned short pk[TPL];
#pragma unroll
  for (int k = 0; k < TPL; k++) {
    const float pv = sv[k] == MLA4J_NEG_INF ? 0.f : exp2_approx(sv[k] - m_new);
    pk[k] = round(pv * col(t0 + k));
    sum += widen(round(pv));
  }
  unsigned short* const out = pr + r * PS + t0;
  if constexpr (TPL == 1) {
    out[0] = pk[0];
  } else {
#pragma unroll
    for (int k = 0; k < TPL; k += 2) {  // 4-byte pairs (PS and t0 are even)
      *(unsigned*)(out + k) = (unsigned)pk[k] | ((unsigned)pk[k + 1] << 16);
    }
  }
#pragma unroll
  for (int off = LPR / 2; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (lane % LPR == 0) {
    const float a = LAZY ? a_lazy : m_old == MLA4J_NEG_INF ? 0.f : exp2_approx(m_old - m_new);
    alpha[r] = a;
    m[r] = m_new;
    l[r] = l[r] * a + sum;
  }
}

// d += a·b, m16n8k16, A row-major BF16, B column-major BF16, FP32 accumulators.
__device__ __forceinline__ void mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// d += a·b as mma_bf16, with FP16 operands.
__device__ __forceinline__ void mma_f16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// FP16 pair {lo, hi} (lo in the low half), round to nearest even.
__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
  unsigned d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

// BF16 pair {lo, hi} (lo in the low half), round to nearest even.
__device__ __forceinline__ unsigned pack_bf162(float lo, float hi) {
  unsigned d;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

#endif
