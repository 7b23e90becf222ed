package dev.mla4j.cuda;

import dev.mla4j.tensor.DType;
import java.util.Optional;

/**
 * The device-resident projection GEMM ({@code y = x Wᵀ} and {@code y = x W} on device pointers):
 * cuBLAS where it is loaded and the rule of {@link #choose} prefers it, else the linear.cu
 * kernel. One per stream, like {@link CublasHandle}, which it owns; close it before the stream.
 *
 * <p>The two routes differ in precision for BF16/F16 weights: the cuBLAS route rounds x to the
 * weights' type ({@link CublasHandle}), linear.cu widens the weights and keeps x in F32. The host
 * API ({@link CudaBackend#linear}) therefore stays on linear.cu: it promises F32-exact results
 * and copies every operand per call, so the GEMM's speed does not show there.
 */
public final class DeviceLinear implements AutoCloseable {
  /** Which implementation runs a call. */
  public enum Route {
    /** cublasGemmEx (after rounding x to the weights' type for BF16/F16 weights). */
    CUBLAS,
    /** {@code mla4j_linear_*} / {@code mla4j_linear_t_*} of native/linear.cu. */
    KERNEL
  }

  private final CudaContext context;
  private final CudaStream stream;
  private final CublasHandle cublas;
  private final String cublasFailure;

  private DeviceLinear(CudaContext context, CudaStream stream, CublasHandle cublas,
      String cublasFailure) {
    this.context = context;
    this.stream = stream;
    this.cublas = cublas;
    this.cublasFailure = cublasFailure;
  }

  /**
   * Opens the projection GEMM of {@code stream}, with cuBLAS if it loads here and a handle can be
   * created (else linear.cu, and {@link #cublasUnavailableReason} says why).
   */
  public static DeviceLinear open(CudaContext context, CudaStream stream) {
    Optional<String> missing = Cublas.unavailableReason();
    if (missing.isPresent()) {
      return new DeviceLinear(context, stream, null, missing.get());
    }
    try {
      return new DeviceLinear(context, stream, CublasHandle.open(context, stream), null);
    } catch (CudaException e) {
      return new DeviceLinear(context, stream, null, e.getMessage());
    }
  }

  /** Empty when cuBLAS is in use, otherwise why not (then every call runs linear.cu). */
  public Optional<String> cublasUnavailableReason() {
    return Optional.ofNullable(cublasFailure);
  }

  /** The cuBLAS version and file, or "linear.cu only: reason". */
  public String describe() {
    return cublas != null ? cublas.describe()
        : "linear.cu only: " + cublasUnavailableReason().orElse("?");
  }

  /**
   * The route for one call: KERNEL when cuBLAS is not available, else the rule measured on the
   * H100 (see {@link #cublasWins}).
   */
  public static Route choose(boolean cublasAvailable, boolean transposed, DType dtype, int wRows,
      int wCols, int tokens) {
    if (!cublasAvailable) {
      return Route.KERNEL;
    }
    return cublasWins(transposed, dtype, wRows, wCols, tokens) ? Route.CUBLAS : Route.KERNEL;
  }

  /**
   * Whether cuBLAS should run this shape, from CudaProjectionBench on the H100
   * (native/results/h100-projection.{csv,log}, BF16 weights, µs linear.cu / cuBLAS): at T = 1 the
   * y = x·Wᵀ form is a GEMV that linear.cu's warp-per-output kernel runs faster or as fast
   * (W[512][4096] 11.9 / 53.7, W[4096][512] 6.6 / 9.9, W[512][5120] 13.9 / 13.0); at T = 64
   * cuBLAS is 4.2-5.7x faster and at T = 2048 31-57x; the y = x·W form is 17-32x faster on cuBLAS
   * at every T. Counts between 1 and 64 were not measured and go to cuBLAS.
   */
  static boolean cublasWins(boolean transposed, DType dtype, int wRows, int wCols, int tokens) {
    return transposed || tokens > 1;
  }

  /** {@link #choose} for this instance's cuBLAS availability. */
  public Route route(boolean transposed, DType dtype, int wRows, int wCols, int tokens) {
    return choose(cublas != null, transposed, dtype, wRows, wCols, tokens);
  }

  /**
   * Queues {@code y = x Wᵀ} (transposed false) or {@code y = x W} (true) on the stream, by
   * {@link #route}.
   *
   * @param x {@code [T][xStride]} F32
   * @param w {@code [wRows][wStride]} of {@code dtype}
   * @param y {@code [T][yStride]} F32
   */
  public void linear(boolean transposed, long x, long xStride, long w, long wStride, DType dtype,
      int wRows, int wCols, long y, long yStride, int tokens) {
    linear(route(transposed, dtype, wRows, wCols, tokens), transposed, x, xStride, w, wStride,
        dtype, wRows, wCols, y, yStride, tokens);
  }

  /** As {@link #linear(boolean, long, long, long, long, DType, int, int, long, long, int)} on a given route (tests, the benchmark). */
  public void linear(Route route, boolean transposed, long x, long xStride, long w, long wStride,
      DType dtype, int wRows, int wCols, long y, long yStride, int tokens) {
    if (route == Route.CUBLAS) {
      if (cublas == null) {
        throw new IllegalStateException("cuBLAS route asked for, but cuBLAS is unavailable: "
            + cublasUnavailableReason().orElse("?"));
      }
      cublas.linear(transposed, x, xStride, w, wStride, dtype, wRows, wCols, y, yStride, tokens);
    } else {
      CudaOps.linear(context, stream, transposed, x, xStride, w, wStride, dtype, wRows, wCols, y,
          yStride, tokens);
    }
  }

  @Override
  public void close() {
    if (cublas != null) {
      cublas.close();
    }
  }
}
