// Linear layers, F32 accumulation over F32/BF16/F16 weights: the exact-F32-activation kernels of
// the host API and the fallback when cuBLAS is missing, and the activation rounding that feeds
// the cuBLAS projection GEMM (dev.mla4j.cuda.DeviceLinear says which runs where).
#include "mla4j_device.h"

// Threads per linear CTA; the y = x Wᵀ form runs one warp per output column.
#define MLA4J_LINEAR_THREADS 256

// y[t][o] = Σ_i x[t][i]·w[o][i]: grid (ceil(w_rows / warps), T), lanes over i.
template <int DT>
__device__ void linear(const LinearParams& p) {
  const int o = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int t = blockIdx.y;
  const int lane = threadIdx.x & 31;
  if (o >= p.w_rows) {
    return;
  }
  const float* x = p.x + t * p.x_stride;
  float s = 0.f;
  for (int i = lane; i < p.w_cols; i += 32) {
    s += x[i] * load_elem<DT>(p.w, o * p.w_stride + i);
  }
  s = warp_sum(s);
  if (lane == 0) {
    p.y[t * p.y_stride + o] = s;
  }
}

// y[t][i] = Σ_o x[t][o]·w[o][i]: grid (ceil(w_cols / threads), T), one thread per i.
template <int DT>
__device__ void linear_transposed(const LinearParams& p) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int t = blockIdx.y;
  if (i >= p.w_cols) {
    return;
  }
  const float* x = p.x + t * p.x_stride;
  float s = 0.f;
  for (int o = 0; o < p.w_rows; o++) {
    s += x[o] * load_elem<DT>(p.w, o * p.w_stride + i);
  }
  p.y[t * p.y_stride + i] = s;
}

extern "C" __global__ void mla4j_linear_f32(const LinearParams p) { linear<MLA4J_F32>(p); }
extern "C" __global__ void mla4j_linear_bf16(const LinearParams p) { linear<MLA4J_BF16>(p); }
extern "C" __global__ void mla4j_linear_f16(const LinearParams p) { linear<MLA4J_F16>(p); }
extern "C" __global__ void mla4j_linear_t_f32(const LinearParams p) { linear_transposed<MLA4J_F32>(p); }
extern "C" __global__ void mla4j_linear_t_bf16(const LinearParams p) { linear_transposed<MLA4J_BF16>(p); }
extern "C" __global__ void mla4j_linear_t_f16(const LinearParams p) { linear_transposed<MLA4J_F16>(p); }

// dst = src rounded to DT (BF16 or F16, nearest even; NaN stays NaN, F16 overflows to inf):
// grid-stride over rows·cols elements.
template <int DT>
__device__ void round_rows(const RoundParams& p) {
  const long long n = (long long)p.rows * p.cols;
  for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
       e += (long long)gridDim.x * blockDim.x) {
    const long long t = e / p.cols;
    const float v = p.src[t * p.src_stride + (e - t * p.cols)];
    ((unsigned short*)p.dst)[e] = DT == MLA4J_BF16 ? to_bf16_cvt(v) : to_f16(v);
  }
}

extern "C" __global__ void mla4j_round_bf16(const RoundParams p) { round_rows<MLA4J_BF16>(p); }
extern "C" __global__ void mla4j_round_f16(const RoundParams p) { round_rows<MLA4J_F16>(p); }
