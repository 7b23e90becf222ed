/**
 * The CUDA backend: {@link dev.mla4j.cuda.CudaBackend} behind the host-tensor API, and the
 * device-resident pieces the GPU benchmark uses ({@link dev.mla4j.cuda.DevicePagedCache},
 * {@link dev.mla4j.cuda.PagedAttention}, {@link dev.mla4j.cuda.CudaOps}).
 *
 * <p>This is the only package that touches libcuda and libnvrtc, through the FFM API
 * (java.lang.foreign), no JNI: {@code CudaDriver} and {@code Nvrtc} hold the downcall handles.
 * Kernels are the sources in {@code native/}, loaded from the fatbins packed into the jar or
 * compiled by NVRTC; their parameter structs are mirrored in {@code KernelStructs}. Depends on
 * {@code api}, {@code attention} (the SPI it does not use), {@code cache}, {@code rope} and
 * {@code tensor}.
 */
package dev.mla4j.cuda;
