package dev.mla4j.cuda;

import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;

/**
 * Launches of the element-wise, linear and cache-append kernels on device pointers (rope.cu,
 * linear.cu, quantize.cu). Each queues work on the given stream and returns; nothing waits.
 */
public final class CudaOps {
  /** Threads per CTA of the linear and rope kernels. */
  static final int THREADS = 256;
  private static final int WARPS = THREADS / 32;
  /** CTAs of a grid-stride launch: enough to fill any current GPU several times over. */
  private static final long MAX_GRID = 1 << 16;

  private CudaOps() {}

  private static String suffix(DType dtype) {
    return switch (dtype) {
      case F32 -> "f32";
      case BF16 -> "bf16";
      case F16 -> "f16";
    };
  }

  /**
   * {@code y = x Wᵀ} (transposed false) or {@code y = x W} (true), F32 accumulation.
   *
   * @param x {@code [T][xStride]} F32
   * @param w {@code [wRows][wStride]} of {@code dtype}
   * @param y {@code [T][yStride]} F32
   */
  public static void linear(CudaContext ctx, CudaStream stream, boolean transposed, long x,
      long xStride, long w, long wStride, DType dtype, int wRows, int wCols, long y, long yStride,
      int tokens) {
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.LINEAR).set("x", x).set("w", w)
          .set("y", y).set("x_stride", xStride).set("w_stride", wStride).set("y_stride", yStride)
          .set("tokens", tokens).set("w_rows", wRows).set("w_cols", wCols)
          .set("dtype", dtype.ordinal());
      if (transposed) {
        ctx.launch("mla4j_linear_t_" + suffix(dtype), (wCols + THREADS - 1) / THREADS, tokens, 1,
            THREADS, 0, stream, p.segment);
      } else {
        ctx.launch("mla4j_linear_" + suffix(dtype), (wRows + WARPS - 1) / WARPS, tokens, 1,
            THREADS, 0, stream, p.segment);
      }
    }
  }

  /**
   * Rounds F32 {@code src [rows][srcStride]} ({@code cols} used) to {@code dtype} (BF16 or F16,
   * nearest even) into dense {@code dst [rows][cols]}: the activation operand of the cuBLAS GEMM.
   */
  static void roundRows(CudaContext ctx, CudaStream stream, long src, long srcStride, int rows,
      int cols, long dst, DType dtype) {
    if (dtype == DType.F32) {
      throw new IllegalArgumentException("roundRows rounds to BF16 or F16, not F32");
    }
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.ROUND).set("src", src).set("dst", dst)
          .set("src_stride", srcStride).set("rows", rows).set("cols", cols)
          .set("dtype", dtype.ordinal());
      long blocks = Math.min(MAX_GRID, ((long) rows * cols + THREADS - 1) / THREADS);
      ctx.launch("mla4j_round_" + suffix(dtype), (int) Math.max(1, blocks), 1, 1, THREADS, 0,
          stream, p.segment);
    }
  }

  /**
   * Partial RoPE in place on {@code x [T][rowStride]} (heads·2r columns used).
   *
   * @param positions {@code [T]} int32
   * @param invFreq {@code [n_kv][r]} F32 kept θ of the layer
   * @param first {@code [r]} int32, second {@code [r]} int32: where pair m's elements sit
   */
  public static void rope(CudaContext ctx, CudaStream stream, long x, long rowStride, int tokens,
      int heads, int r, int group, long positions, long invFreq, long first, long second,
      float attention) {
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.ROPE).set("x", x)
          .set("positions", positions).set("inv_freq", invFreq).set("first", first)
          .set("second", second).set("row_stride", rowStride).set("tokens", tokens)
          .set("heads", heads).set("r", r).set("group", group).set("attention", attention);
      long total = (long) tokens * heads * r;
      ctx.launch("mla4j_rope", (int) ((total + THREADS - 1) / THREADS), 1, 1, THREADS, 0, stream,
          p.segment);
    }
  }

  /**
   * {@link DevicePagedCache#append}; {@code softwareFp8} runs the FP8 encode of sm_80 (no
   * {@code cvt.rn.satfinite.e4m3x2}) on any GPU, so tests check it where the instruction exists.
   */
  static void append(CudaContext ctx, CudaStream stream, DevicePagedCache cache, int part,
      long rows, long rowStride, int tokens, int seqs, long blockTable, int maxBlocks,
      long firstPos, boolean softwareFp8) {
    int width = cache.width(java.util.Objects.checkIndex(part, cache.parts()));
    if (tokens <= 0 || seqs <= 0 || maxBlocks <= 0 || rowStride < width) {
      throw new IllegalArgumentException("device cache append needs tokens, seqs and maxBlocks "
          + "> 0 and a row stride >= the part's width " + width + ", got " + tokens + ", " + seqs
          + ", " + maxBlocks + ", " + rowStride);
    }
    if (width == 0) {
      return;
    }
    QuantizedLayout q = cache.quantization(part);
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.APPEND).set("src", rows)
          .set("pool", cache.pool().pointer()).set("block_table", blockTable)
          .set("first_pos", firstPos).set("block_bytes", cache.blockBytes())
          .set("part_offset", cache.partOffset(part)).set("scales_offset", cache.scalesOffset(part))
          .set("src_stride", rowStride).set("width", width).set("tokens", tokens)
          .set("seqs", seqs).set("max_blocks", maxBlocks).set("dtype", cache.dtype().ordinal())
          .set("quant", cache.quantizationKind(part).ordinal());
      long rowCount = (long) tokens * seqs;
      if (q == null) {
        long blocks = Math.min(MAX_GRID, (rowCount * width + THREADS - 1) / THREADS);
        ctx.launch("mla4j_append_plain", (int) blocks, 1, 1, THREADS, 0, stream, p.segment);
        return;
      }
      p.set("seg", q.segmentLength()).set("group", q.groupSize()).set("code_row", q.rowBytes())
          .set("scale_row", q.scalesPerRow());
      long groups = rowCount * q.scalesPerRow(); // one warp each
      ctx.launch(softwareFp8 ? "mla4j_append_quantized_sw" : "mla4j_append_quantized",
          Math.toIntExact((groups + WARPS - 1) / WARPS), 1, 1, THREADS, 0, stream, p.segment);
    }
  }

  /** Fills {@code count} elements of {@code dtype} at {@code dst} with hash values in [-1, 1). */
  public static void fillRandom(CudaContext ctx, CudaStream stream, long dst, long count,
      DType dtype, int seed) {
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.FILL).set("dst", dst).set("n", count)
          .set("seed", seed).set("dtype", dtype.ordinal());
      ctx.launch("mla4j_fill_random", 4 * ctx.multiprocessors(), 1, 1, THREADS, 0, stream,
          p.segment);
    }
  }

  /** Warps of {@link #mmaPeak}: 8 per CTA, 4 CTAs per SM (registers allow it, the MMA pipe is shared). */
  public static final int PEAK_THREADS = 256;
  /** BF16 MMAs of m16n8k16 per warp and iteration of {@code mla4j_mma_peak_bf16}. */
  public static final int PEAK_CHAINS = 8;

  /**
   * Launches the tensor-core peak probe ({@code native/mla_mma.cu}): {@code blocks} CTAs of
   * {@link #PEAK_THREADS} threads, each warp {@code iters}·{@link #PEAK_CHAINS} MMAs of
   * 2·16·8·16 FLOPs; {@code out} takes blocks·PEAK_THREADS floats.
   */
  public static void mmaPeak(CudaContext ctx, CudaStream stream, long out, int blocks, long iters) {
    peak(ctx, stream, "mla4j_mma_peak_bf16", out, blocks, iters);
  }

  /** m64n256k16 wgmmas per warpgroup and iteration of {@code mla4j_wgmma_peak_bf16}. */
  public static final int WGMMA_PEAK_STEPS = 8;

  /**
   * Launches the wgmma peak probe ({@code native/mla_wgmma.cu}, sm_90a only, see
   * {@link CudaContext#hasWgmma}): {@code blocks} CTAs of {@link #PEAK_THREADS} threads (two warpgroups),
   * each warpgroup {@code iters}·{@link #WGMMA_PEAK_STEPS} wgmmas of 2·64·256·16 FLOPs;
   * {@code out} takes blocks·PEAK_THREADS floats.
   */
  public static void wgmmaPeak(CudaContext ctx, CudaStream stream, long out, int blocks,
      long iters) {
    if (!ctx.hasWgmma()) {
      throw new IllegalStateException("wgmma needs an sm_90 device with the sm_90a kernels; "
          + ctx.describe());
    }
    peak(ctx, stream, "mla4j_wgmma_peak_bf16", out, blocks, iters);
  }

  /** Threads per CTA of {@link #readPeak} ({@code READ_PEAK_THREADS}). */
  public static final int READ_PEAK_THREADS = 512;

  /** CTAs of {@link #readPeak}: as many as are resident at once, so the launch is one wave. */
  public static int readPeakBlocks(CudaContext ctx) {
    return ctx.multiprocessors() * Math.max(1, ctx.threadsPerMultiprocessor() / READ_PEAK_THREADS);
  }

  /**
   * Launches the read-bandwidth probe ({@code native/read_peak.cu}): {@code bytes} at {@code src}
   * (a multiple of 16, 16-byte aligned) read once by {@link #readPeakBlocks} CTAs; {@code out}
   * takes one U32 per thread, the XOR of the 32-bit words that thread read.
   */
  public static void readPeak(CudaContext ctx, CudaStream stream, long src, long bytes, long out) {
    if (bytes <= 0 || bytes % 16 != 0 || src % 16 != 0) {
      throw new IllegalArgumentException(
          "read probe: bytes must be a positive multiple of 16 at a 16-byte address, got " + bytes
              + " bytes at 0x" + Long.toHexString(src));
    }
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.READ_PEAK).set("src", src).set("out", out)
          .set("bytes", bytes);
      ctx.launch("mla4j_read_peak", readPeakBlocks(ctx), 1, 1, READ_PEAK_THREADS, 0, stream,
          p.segment);
    }
  }

  private static void peak(CudaContext ctx, CudaStream stream, String kernel, long out, int blocks,
      long iters) {
    try (Arena arena = Arena.ofConfined()) {
      var p = new KernelStructs.Writer(arena, KernelStructs.PEAK).set("out", out).set("iters", iters);
      ctx.launch(kernel, blocks, 1, 1, PEAK_THREADS, 0, stream, p.segment);
    }
  }
}
