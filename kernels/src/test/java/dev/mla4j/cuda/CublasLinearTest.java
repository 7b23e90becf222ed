package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Seeds;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The cuBLAS projection GEMM ({@link DeviceLinear} on both routes) against a double-precision
 * oracle written here, on device-resident operands with row gaps. Skipped with the reason without
 * a GPU or without libcublas.
 *
 * <p>Tolerances, per output y[t][o] with S = Σ_i |x_i·w_i| (the terms' magnitudes):
 * <ul>
 *   <li>against the oracle on x rounded the same way (RNE to the weights' type): only the F32
 *       accumulation differs, |err| ≤ k·2^-24·S per sum, with 4× slack for tensor cores that
 *       truncate instead of rounding and for split-K order: (k + 2)·2^-22·S;
 *   <li>against the oracle on the F32 x: the rounding of x adds at most u·S (u = 2^-8 for BF16,
 *       2^-11 for F16, 0 for F32), and ‖y − ref‖/‖ref‖ must stay under 4u (+1e-5): random rounding
 *       errors give about u/√3, a wrong index or transpose gives about 1.
 * </ul>
 * The gap columns past each row of x and W hold NaN, so reading one shows; output rows are
 * poisoned with NaN first and their gap columns must stay NaN.
 */
@Tag("gpu")
class CublasLinearTest {
  private static final int NAN_BITS = Float.floatToRawIntBits(Float.NaN);
  private static CudaContext ctx;
  private static CudaStream stream;
  private static DeviceLinear linear;

  @BeforeAll
  static void needsGpuAndCublas() {
    BackendCases.assumeCuda();
    Assumptions.assumeTrue(CublasHandle.unavailableReason().isEmpty(),
        () -> "no cuBLAS: " + CublasHandle.unavailableReason().get());
    ctx = CudaContext.get();
    stream = ctx.newStream();
    linear = DeviceLinear.open(ctx, stream);
    System.out.println("CUDA device: " + ctx.describe() + ", " + linear.describe());
  }

  @AfterAll
  static void close() {
    if (linear != null) {
      linear.close();
      stream.close();
    }
  }

  /** (T, W rows, W cols): T = 1, odd sizes, sizes around multiples of 8, the projection shapes. */
  static List<Object[]> cases() {
    int[][] shapes = {{1, 1, 1}, {1, 7, 13}, {1, 512, 4096}, {3, 33, 65}, {5, 129, 127},
        {17, 100, 257}, {64, 512, 1000}, {65, 9, 4097}, {200, 257, 512}};
    List<Object[]> out = new ArrayList<>();
    for (int[] s : shapes) {
      for (DType dtype : DType.values()) {
        for (boolean transposed : new boolean[] {false, true}) {
          out.add(new Object[] {s[0], s[1], s[2], dtype, transposed});
        }
      }
    }
    return out;
  }

  @ParameterizedTest(name = "T {0}, W [{1}][{2}] {3}, transposed {4}")
  @MethodSource("cases")
  void cublasMatchesOracle(int tokens, int rows, int cols, DType dtype, boolean transposed) {
    check(DeviceLinear.Route.CUBLAS, tokens, rows, cols, dtype, transposed);
  }

  @ParameterizedTest(name = "T {0}, W [{1}][{2}] {3}, transposed {4}")
  @MethodSource("cases")
  void kernelMatchesOracle(int tokens, int rows, int cols, DType dtype, boolean transposed) {
    check(DeviceLinear.Route.KERNEL, tokens, rows, cols, dtype, transposed);
  }

  private static void check(DeviceLinear.Route route, int tokens, int rows, int cols, DType dtype,
      boolean transposed) {
    Seeds.Case rnd = Seeds.forCase("cublas " + route + tokens + "x" + rows + "x" + cols + dtype
        + transposed);
    int k = transposed ? rows : cols;
    int m = transposed ? cols : rows;
    // row gaps everywhere, so a stride taken for a width shows up
    int xStride = k + 3;
    int wStride = cols + 5;
    int yStride = m + 2;
    float[] x = rnd.gaussians(tokens * xStride, 1.0);
    float[] w = rnd.gaussians(rows * wStride, 1.0 / Math.sqrt(k));
    for (int i = 0; i < w.length; i++) {
      w[i] = i % wStride < cols ? widen(dtype, narrow(dtype, w[i])) : Float.NaN;
    }
    for (int i = 0; i < x.length; i++) {
      x[i] = i % xStride < k ? x[i] : Float.NaN; // a read of a gap makes y NaN
    }
    boolean rounds = route == DeviceLinear.Route.CUBLAS && dtype != DType.F32;
    double u = !rounds ? 0 : dtype == DType.BF16 ? 0x1p-8 : 0x1p-11;
    float[] y;
    try (Arena arena = Arena.ofConfined();
        DeviceBuffer dx = DeviceData.bytes(ctx, arena, stream, MemorySegment.ofArray(x));
        DeviceBuffer dw = DeviceData.bytes(ctx, arena, stream, store(arena, dtype, w));
        DeviceBuffer dy = ctx.allocate((long) tokens * yStride * Float.BYTES)) {
      dy.fill32(stream, NAN_BITS);
      linear.linear(route, transposed, dx.pointer(), xStride, dw.pointer(), wStride, dtype, rows,
          cols, dy.pointer(), yStride, tokens);
      y = DeviceData.download(arena, stream, dy).toArray(JAVA_FLOAT);
    }
    double errNorm = 0;
    double refNorm = 0;
    for (int t = 0; t < tokens; t++) {
      for (int o = 0; o < m; o++) {
        double exact = 0;
        double onRounded = 0;
        double s = 0;
        for (int i = 0; i < k; i++) {
          double wi = transposed ? w[i * wStride + o] : w[o * wStride + i];
          float xi = x[t * xStride + i];
          exact += xi * wi;
          onRounded += (rounds ? widen(dtype, narrow(dtype, xi)) : xi) * wi;
          s += Math.abs(xi * wi);
        }
        double got = y[t * yStride + o];
        String at = rnd + " y[" + t + "][" + o + "] = " + got + ", exact " + exact + ", on rounded x "
            + onRounded + ", S " + s;
        assertTrue(Math.abs(got - onRounded) <= (k + 2) * 0x1p-22 * s + Float.MIN_NORMAL,
            "accumulation error too large " + at);
        assertTrue(Math.abs(got - exact) <= (u + (k + 2) * 0x1p-22) * s + Float.MIN_NORMAL,
            "error beyond x's rounding " + at);
        errNorm += (got - exact) * (got - exact);
        refNorm += exact * exact;
      }
      for (int o = m; o < yStride; o++) {
        assertEquals(NAN_BITS, Float.floatToRawIntBits(y[t * yStride + o]),
            rnd + " gap column y[" + t + "][" + o + "] was written");
      }
    }
    double rel = Math.sqrt(errNorm / Math.max(refNorm, Double.MIN_NORMAL));
    assertTrue(rel <= 4 * u + 1e-5, rnd + " ‖y − ref‖/‖ref‖ = " + rel + " > " + (4 * u + 1e-5));
  }

  /** The bits of {@code v} in {@code dtype}, round to nearest even (F32: the float's bits). */
  private static int narrow(DType dtype, float v) {
    int bits = Float.floatToRawIntBits(v);
    return switch (dtype) {
      case F32 -> bits;
      case BF16 -> (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
      case F16 -> Float.floatToFloat16(v) & 0xffff;
    };
  }

  private static float widen(DType dtype, int bits) {
    return switch (dtype) {
      case F32 -> Float.intBitsToFloat(bits);
      case BF16 -> Float.intBitsToFloat(bits << 16);
      case F16 -> Float.float16ToFloat((short) bits);
    };
  }

  private static MemorySegment store(Arena arena, DType dtype, float[] w) {
    if (dtype == DType.F32) {
      return MemorySegment.ofArray(w);
    }
    MemorySegment s = arena.allocate(2L * w.length, 16);
    for (int i = 0; i < w.length; i++) {
      s.setAtIndex(JAVA_SHORT, i, (short) narrow(dtype, w[i]));
    }
    return s;
  }
}
