// Device helpers shared by the kernel files: widening loads of cache/weight elements.
#ifndef MLA4J_DEVICE_H
#define MLA4J_DEVICE_H
#include "mla4j_params.h"

// -inf without math.h, which NVRTC does not provide.
#define MLA4J_NEG_INF __int_as_float(0xff800000)

// Float to BF16 / FP16 bits in one instruction (sm_80+), round to nearest even, and FP16 bits back
// to float (exact).
__device__ __forceinline__ unsigned short to_bf16_cvt(float f) {
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

__device__ __forceinline__ unsigned short to_f16(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

__device__ __forceinline__ float from_f16(unsigned short h) {
  float f;
  asm("{.reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t;}" : "=f"(f) : "h"(h));
  return f;
}

// Element idx of a DT array at base, widened to float exactly.
template <int DT>
__device__ __forceinline__ float load_elem(const void* base, long long idx) {
  if (DT == MLA4J_F32) {
    return ((const float*)base)[idx];
  }
  unsigned short h = ((const unsigned short*)base)[idx];
  if (DT == MLA4J_BF16) {
    return __uint_as_float(((unsigned int)h) << 16);
  }
  return from_f16(h);
}

// Keys [begin, end) of key-range split `split`: its blocks_per_split 64-token blocks, cut at
// key_end (the causal end of the query token).
struct KeyRange {
  int begin, end;
};
__device__ __forceinline__ KeyRange split_keys(const PagedAttnParams& p, int split, int key_end) {
  const int blocks = (key_end + MLA4J_BLOCK_TOKENS - 1) / MLA4J_BLOCK_TOKENS;
  const int b_begin = split * p.blocks_per_split;
  const int b_end = min(blocks, b_begin + p.blocks_per_split);
  return {b_begin * MLA4J_BLOCK_TOKENS, min(key_end, b_end * MLA4J_BLOCK_TOKENS)};
}

// Programmatic dependent launch (sm_90 and later; no-ops elsewhere). A kernel queued with
// programmatic stream serialization (CudaContext.launchDependent) may start while the grid before
// it still runs; grid_dependency_wait() returns once that grid has completed and its writes are
// visible. The grid before it calls grid_dependents_launch() to let it start early (its CTAs then
// wait on the SMs the kernel leaves free instead of being launched after its last CTA exits).
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void grid_dependents_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
#endif
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) {
    v += __shfl_xor_sync(0xffffffffu, v, o);
  }
  return v;
}
#endif
