// The driver's own cost to queue a kernel, from C: the floor under the JVM's launch path
// (bench/.../CudaLaunchBenchmark). An empty kernel taking a 264-byte struct by value, as the
// decode kernels take PagedAttnParams; 64 launches between drains, as the JMH benchmark does, so
// no launch waits for the GPU. Not part of the library's fatbins (build.sh builds native/*.cu).
//   nvcc -O2 -o /tmp/launch_cost native/probes/launch_cost.cu -lcuda && /tmp/launch_cost
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

struct Params {
  unsigned char bytes[264];
};

__global__ void empty_kernel(const Params) {}

static void check(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    const char* name = "?";
    cuGetErrorName(r, &name);
    std::fprintf(stderr, "%s failed: %s\n", what, name);
    std::exit(1);
  }
}

constexpr int kDrain = 64;
constexpr int kRounds = 4000;

// Median over rounds of the host's nanoseconds per call of queue() (one launch each).
template <class F>
static double median_ns(CUstream stream, F queue) {
  std::vector<double> per;
  for (int round = 0; round < kRounds; round++) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kDrain; i++) queue();
    auto t1 = std::chrono::steady_clock::now();
    check(cuStreamSynchronize(stream), "cuStreamSynchronize");
    if (round >= kRounds / 4) {  // the first quarter warms up
      per.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kDrain);
    }
  }
  std::nth_element(per.begin(), per.begin() + per.size() / 2, per.end());
  return per[per.size() / 2];
}

int main() {
  cudaFree(nullptr);  // the runtime's primary context, current on this thread
  CUcontext ctx;
  check(cuCtxGetCurrent(&ctx), "cuCtxGetCurrent");
  cudaFunction_t fn;
  if (cudaGetFuncBySymbol(&fn, (const void*)empty_kernel) != cudaSuccess) {
    std::fprintf(stderr, "cudaGetFuncBySymbol failed\n");
    return 1;
  }
  CUfunction f = (CUfunction)fn;
  CUstream stream;
  check(cuStreamCreate(&stream, 0), "cuStreamCreate");
  Params p = {};
  void* args[] = {&p};

  auto plain = [&] {
    check(cuLaunchKernel(f, 8, 1, 1, 256, 1, 1, 0, stream, args, nullptr), "cuLaunchKernel");
  };
  auto current_then_plain = [&] {
    check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    plain();
  };
  CUlaunchAttribute pdl = {};
  pdl.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  pdl.value.programmaticStreamSerializationAllowed = 1;
  CUlaunchConfig config = {};
  config.gridDimX = 8;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 256;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = stream;
  config.attrs = &pdl;
  config.numAttrs = 1;
  auto programmatic = [&] { check(cuLaunchKernelEx(&config, f, args, nullptr), "cuLaunchKernelEx"); };

  std::printf("launch_cost: median host ns per launch over %d rounds of %d launches\n",
              kRounds * 3 / 4, kDrain);
  std::printf("cuLaunchKernel                        %8.0f\n", median_ns(stream, plain));
  std::printf("cuCtxSetCurrent + cuLaunchKernel      %8.0f\n", median_ns(stream, current_then_plain));
  std::printf("cuLaunchKernelEx (programmatic)       %8.0f\n", median_ns(stream, programmatic));
  return 0;
}
