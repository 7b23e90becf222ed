package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One cuBLAS handle bound to one {@link CudaStream}, with the scratch buffer of the rounded
 * activations: the projection GEMM on device pointers. Lifetime: open it for a stream, close it
 * before the stream; like the stream, it is used by one thread at a time (cuBLAS handles are not
 * safe to share between threads issuing work at once).
 *
 * <p>Precision. cublasGemmEx takes A and B in one type, so F32 activations meet BF16/F16 weights
 * only after {@code mla4j_round_bf16/f16} (linear.cu) rounds them to the weights' type, to nearest
 * even: the GEMM then runs on tensor cores with F32 accumulation and F32 output, BF16-input like
 * the tensor-core MLA kernel (relative error per output up to about 2^-8·Σ|x·w|/|Σx·w| from the
 * rounding of x). F16 weights round x to F16, so |x| above 65504 becomes inf in y. F32 weights
 * run an F32 GEMM (CUBLAS_COMPUTE_32F, default math mode: no TF32), exact in F32.
 */
public final class CublasHandle implements AutoCloseable {
  private final CudaContext context;
  private final CudaStream stream;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment one;
  private final MemorySegment zero;
  private MemorySegment handle;
  private DeviceBuffer scratch;

  private CublasHandle(CudaContext context, CudaStream stream) {
    this.context = context;
    this.stream = stream;
    this.one = arena.allocateFrom(JAVA_FLOAT, 1f);
    this.zero = arena.allocateFrom(JAVA_FLOAT, 0f);
    context.makeCurrent();
    this.handle = Cublas.create();
    try {
      Cublas.setStream(handle, stream.handle());
    } catch (CudaException e) {
      Cublas.destroy(handle);
      throw e;
    }
  }

  /** A handle whose work runs on {@code stream}; throws with the reason when cuBLAS is missing. */
  public static CublasHandle open(CudaContext context, CudaStream stream) {
    Cublas.unavailableReason().ifPresent(why -> {
      throw new IllegalStateException("cuBLAS unavailable: " + why);
    });
    return new CublasHandle(context, stream);
  }

  /** Empty when cuBLAS loaded with every symbol used, otherwise why not (no GPU needed to ask). */
  public static java.util.Optional<String> unavailableReason() {
    return Cublas.unavailableReason();
  }

  private MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("cuBLAS handle used after close");
    }
    return handle;
  }

  /** e.g. "cuBLAS 130100 (libcublas.so.13)". */
  public String describe() {
    context.makeCurrent();
    return "cuBLAS " + Cublas.version(handle()) + " (" + Cublas.loadedFrom() + ")";
  }

  /**
   * Queues {@code y = x Wᵀ} ({@code transposed} false) or {@code y = x W} (true) on the stream.
   *
   * <p>Row-major to column-major: a row-major {@code M [r][c]} with row stride s is, to cuBLAS,
   * the column-major c×r matrix Mᵀ with leading dimension s. So {@code y [T][o]} is Yᵀ (o×T,
   * ldc = yStride), {@code W [rows][cols]} is Wᵀ (cols×rows, lda = wStride) and x is Xᵀ.
   * <ul>
   *   <li>{@code y = x Wᵀ}: Yᵀ = W·Xᵀ = op(Wᵀ)·Xᵀ with op = T: gemm(T, N, m = rows, n = T,
   *       k = cols, A = W, B = x).
   *   <li>{@code y = x W}: Yᵀ = Wᵀ·Xᵀ, both already as stored: gemm(N, N, m = cols, n = T,
   *       k = rows, A = W, B = x).
   * </ul>
   *
   * @param x {@code [T][xStride]} F32 ({@code k} columns used)
   * @param w {@code [wRows][wStride]} of {@code dtype}
   * @param y {@code [T][yStride]} F32, overwritten
   */
  public void linear(boolean transposed, long x, long xStride, long w, long wStride, DType dtype,
      int wRows, int wCols, long y, long yStride, int tokens) {
    int m = transposed ? wCols : wRows;
    int k = transposed ? wRows : wCols;
    if (tokens <= 0 || m <= 0 || k <= 0 || xStride < k || wStride < wCols || yStride < m
        || Math.max(Math.max(xStride, wStride), yStride) > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("cuBLAS linear needs T, rows, cols > 0 and row strides "
          + ">= the rows they hold (at most 2^31 - 1), got T " + tokens + ", W [" + wRows + "]["
          + wCols + "] stride " + wStride + ", x stride " + xStride + " (k " + k + "), y stride "
          + yStride + " (m " + m + ")");
    }
    context.makeCurrent();
    long b = x;
    int ldb = (int) xStride;
    if (dtype != DType.F32) {
      b = scratch((long) tokens * k * dtype.bytes());
      ldb = k;
      CudaOps.roundRows(context, stream, x, xStride, tokens, k, b, dtype);
    }
    int type = switch (dtype) {
      case F32 -> Cublas.CUDA_R_32F;
      case BF16 -> Cublas.CUDA_R_16BF;
      case F16 -> Cublas.CUDA_R_16F;
    };
    Cublas.gemmEx(handle(), transposed ? Cublas.OP_N : Cublas.OP_T, Cublas.OP_N, m, tokens, k,
        one, w, type, (int) wStride, b, type, ldb, zero, y, Cublas.CUDA_R_32F, (int) yStride);
  }

  /**
   * Queues, for each j < batch, {@code y_j = x W_jᵀ} with x, W and y all of {@code dtype} (BF16 or
   * F16): tensor cores, F32 accumulation, y rounded to dtype. {@code x [T][xStride]} is shared by
   * the batch; {@code W_j [rows][cols]} lies at {@code w + j·wBatchStride} elements with row stride
   * {@code wStride}, and {@code y_j [T][yStride]} at {@code y + j·yBatchStride} elements: so the
   * y_j can interleave in one row, as the naive MLA prefill's per-kv-head K and V do. Row-major
   * to column-major as {@link #linear}: gemm(T, N, m = rows, n = T, k = cols, A = W_j, B = x).
   */
  public void batchedLinear(long x, long xStride, long w, long wStride, long wBatchStride,
      DType dtype, int rows, int cols, long y, long yStride, long yBatchStride, int tokens,
      int batch) {
    if (dtype == DType.F32) {
      throw new IllegalArgumentException("batchedLinear takes BF16 or F16 operands, got F32");
    }
    if (tokens <= 0 || rows <= 0 || cols <= 0 || batch <= 0 || xStride < cols || wStride < cols
        || yStride < rows || Math.max(Math.max(xStride, wStride), yStride) > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("cuBLAS batched linear needs T, rows, cols, batch > 0 and "
          + "row strides >= the rows they hold (at most 2^31 - 1), got T " + tokens + ", W ["
          + rows + "][" + cols + "] stride " + wStride + ", x stride " + xStride + ", y stride "
          + yStride + ", batch " + batch);
    }
    context.makeCurrent();
    int type = dtype == DType.BF16 ? Cublas.CUDA_R_16BF : Cublas.CUDA_R_16F;
    Cublas.gemmStridedBatchedEx(handle(), Cublas.OP_T, Cublas.OP_N, rows, tokens, cols, one, w,
        type, (int) wStride, wBatchStride, x, type, (int) xStride, 0L, zero, y, type, (int) yStride,
        yBatchStride, batch);
  }

  /**
   * The scratch buffer's address, grown to {@code bytes} if smaller. Growing waits for the stream
   * first: work queued earlier may still read the old buffer.
   */
  private long scratch(long bytes) {
    if (scratch == null || scratch.bytes() < bytes) {
      if (scratch != null) {
        stream.synchronize();
        scratch.close();
      }
      scratch = null;
      scratch = context.allocate(Math.max(bytes, 1 << 16));
    }
    return scratch.pointer();
  }

  /** Waits for the stream (queued GEMMs may still use the scratch), then frees everything. */
  @Override
  public void close() {
    if (handle == null) {
      return;
    }
    context.makeCurrent();
    stream.synchronize();
    if (scratch != null) {
      scratch.close();
      scratch = null;
    }
    Cublas.destroy(handle);
    handle = null;
    arena.close();
  }
}
