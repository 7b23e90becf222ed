/**
 * The CUDA backend: {@link dev.mla4j.cuda.CudaBackend} behind the host-tensor API, and the
 * device-resident pieces the GPU benchmark uses ({@link dev.mla4j.cuda.DevicePagedCache},
 * {@link dev.mla4j.cuda.PagedAttention}, {@link dev.mla4j.cuda.CudaOps}).
 *
 * <p>This is the only package that touches libcuda, libnvrtc and libcublas, through the FFM API
 * (java.lang.foreign), no JNI: {@code CudaDriver}, {@code Nvrtc} and {@code Cublas} hold the
 * downcall handles. {@link dev.mla4j.cuda.DeviceLinear} is the device-resident projection GEMM
 * (cuBLAS when it loads, else linear.cu).
 * Kernels are the sources in {@code native/}, loaded from the fatbins packed into the jar or
 * compiled by NVRTC; their parameter structs are mirrored in {@code KernelStructs}. Depends on
 * {@code api}, {@code attention} (the SPI it does not use), {@code cache}, {@code rope} and
 * {@code tensor}.
 */
package dev.mla4j.cuda;
