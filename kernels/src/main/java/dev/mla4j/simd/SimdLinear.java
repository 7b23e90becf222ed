package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Matrix products with F32 accumulation. One token (GEMV) streams each weight row once, widened
 * in registers, so it runs at read bandwidth; many tokens (GEMM) widen four weight rows into
 * scratch once per tile of {@link #TOKEN_TILE} tokens and reuse them for every token of the tile.
 */
final class SimdLinear {
  /** Weight rows per micro-kernel: four independent accumulator chains hide the FMA latency. */
  private static final int ROWS = 4;
  /** Tokens per GEMM tile: 16 rows of x plus 4 widened weight rows stay in a 512 KiB L2. */
  private static final int TOKEN_TILE = 16;
  private static final int X = 0;
  private static final int W = 1;
  private static final int F16 = 2;

  private SimdLinear() {}

  /** {@code y = x Wᵀ}: x {@code [T][in]}, w {@code [out][in]}, y {@code [T][out]}. */
  static void linear(Tensor x, Tensor w, Tensor y) {
    int in = w.cols();
    int inP = SimdScratch.roundUp(in, LANES);
    float[] xs = SimdScratch.floats(X, x.rows() * inP);
    for (int t = 0; t < x.rows(); t++) {
      SimdLoads.widen(x, t, 0, in, xs, t * inP, inP);
    }
    if (x.rows() == 1 && w.dtype() != DType.F16) {
      gemv(xs, w, y);
    } else {
      gemm(xs, inP, w, y);
    }
  }

  /** One token: four weight rows at a time, widened in registers, tail columns scalar. */
  private static void gemv(float[] xs, Tensor w, Tensor y) {
    int o = 0;
    for (; o + ROWS <= w.rows(); o += ROWS) {
      gemvRows4(xs, w, o, y);
    }
    for (; o < w.rows(); o++) {
      y.set(0, o, dotRow(xs, w, o));
    }
  }

  private static void gemvRows4(float[] xs, Tensor w, int o, Tensor y) {
    MemorySegment seg = w.data();
    DType dt = w.dtype();
    long r0 = w.index(o, 0);
    long r1 = w.index(o + 1, 0);
    long r2 = w.index(o + 2, 0);
    long r3 = w.index(o + 3, 0);
    FloatVector a0 = FloatVector.zero(FLOATS);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    int in = w.cols();
    int bound = FLOATS.loopBound(in);
    for (int i = 0; i < bound; i += LANES) {
      FloatVector xv = FloatVector.fromArray(FLOATS, xs, i);
      a0 = SimdLoads.load(seg, r0 + i, dt, null).fma(xv, a0);
      a1 = SimdLoads.load(seg, r1 + i, dt, null).fma(xv, a1);
      a2 = SimdLoads.load(seg, r2 + i, dt, null).fma(xv, a2);
      a3 = SimdLoads.load(seg, r3 + i, dt, null).fma(xv, a3);
    }
    float s0 = a0.reduceLanes(VectorOperators.ADD);
    float s1 = a1.reduceLanes(VectorOperators.ADD);
    float s2 = a2.reduceLanes(VectorOperators.ADD);
    float s3 = a3.reduceLanes(VectorOperators.ADD);
    for (int i = bound; i < in; i++) {
      s0 += xs[i] * w.get(o, i);
      s1 += xs[i] * w.get(o + 1, i);
      s2 += xs[i] * w.get(o + 2, i);
      s3 += xs[i] * w.get(o + 3, i);
    }
    y.set(0, o, s0);
    y.set(0, o + 1, s1);
    y.set(0, o + 2, s2);
    y.set(0, o + 3, s3);
  }

  private static float dotRow(float[] xs, Tensor w, int o) {
    MemorySegment seg = w.data();
    long r = w.index(o, 0);
    FloatVector a = FloatVector.zero(FLOATS);
    int bound = FLOATS.loopBound(w.cols());
    for (int i = 0; i < bound; i += LANES) {
      a = SimdLoads.load(seg, r + i, w.dtype(), null).fma(FloatVector.fromArray(FLOATS, xs, i), a);
    }
    float s = a.reduceLanes(VectorOperators.ADD);
    for (int i = bound; i < w.cols(); i++) {
      s += xs[i] * w.get(o, i);
    }
    return s;
  }

  /**
   * Tiles of up to 16 tokens; per tile, four weight rows are widened once into scratch (zero
   * padded to whole vectors) and dotted with every token of the tile, two tokens at a time.
   */
  private static void gemm(float[] xs, int inP, Tensor w, Tensor y) {
    int tokens = y.rows();
    float[] ws = SimdScratch.floats(W, ROWS * inP);
    for (int t0 = 0; t0 < tokens; t0 += TOKEN_TILE) {
      int t1 = Math.min(tokens, t0 + TOKEN_TILE);
      for (int o = 0; o < w.rows(); o += ROWS) {
        int rows = Math.min(ROWS, w.rows() - o);
        for (int r = 0; r < ROWS; r++) {
          if (r < rows) {
            SimdLoads.widen(w, o + r, 0, w.cols(), ws, r * inP, inP);
          } else {
            java.util.Arrays.fill(ws, r * inP, (r + 1) * inP, 0f);
          }
        }
        for (int t = t0; t < t1; t += 2) {
          dot4x2(ws, xs, inP, t, Math.min(t + 1, t1 - 1), o, rows, y);
        }
      }
    }
  }

  /**
   * y[ta][o+r] and y[tb][o+r] for r < rows: eight accumulators (4 rows x 2 tokens) cost six
   * loads per eight FMAs, and 8 + 2 + 1 live vectors fit the 16 AVX2 registers without spills.
   */
  private static void dot4x2(float[] ws, float[] xs, int inP, int ta, int tb, int o, int rows,
      Tensor y) {
    FloatVector a00 = FloatVector.zero(FLOATS);
    FloatVector a01 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    int xa = ta * inP;
    int xb = tb * inP;
    for (int i = 0; i < inP; i += LANES) {
      FloatVector x0 = FloatVector.fromArray(FLOATS, xs, xa + i);
      FloatVector x1 = FloatVector.fromArray(FLOATS, xs, xb + i);
      FloatVector v = FloatVector.fromArray(FLOATS, ws, i);
      a00 = v.fma(x0, a00);
      a01 = v.fma(x1, a01);
      v = FloatVector.fromArray(FLOATS, ws, inP + i);
      a10 = v.fma(x0, a10);
      a11 = v.fma(x1, a11);
      v = FloatVector.fromArray(FLOATS, ws, 2 * inP + i);
      a20 = v.fma(x0, a20);
      a21 = v.fma(x1, a21);
      v = FloatVector.fromArray(FLOATS, ws, 3 * inP + i);
      a30 = v.fma(x0, a30);
      a31 = v.fma(x1, a31);
    }
    put(y, ta, tb, o, rows, 0, a00, a01);
    put(y, ta, tb, o, rows, 1, a10, a11);
    put(y, ta, tb, o, rows, 2, a20, a21);
    put(y, ta, tb, o, rows, 3, a30, a31);
  }

  private static void put(Tensor y, int ta, int tb, int o, int rows, int r, FloatVector a,
      FloatVector b) {
    if (r < rows) {
      y.set(ta, o + r, a.reduceLanes(VectorOperators.ADD));
      y.set(tb, o + r, b.reduceLanes(VectorOperators.ADD));
    }
  }

  /** {@code y = x W}: x {@code [T][out]}, w {@code [out][in]}, y {@code [T][in]}. */
  static void linearTransposed(Tensor x, Tensor w, Tensor y) {
    int out = w.rows();
    int tokens = x.rows();
    float[] xs = SimdScratch.floats(X, tokens * out);
    for (int t = 0; t < tokens; t++) {
      SimdLoads.widen(x, t, 0, out, xs, t * out, out);
    }
    float[] f16 = SimdScratch.floats(F16, LANES);
    int t = 0;
    for (; t + 4 <= tokens; t += 4) {
      int i = 0;
      for (; i + 2 * LANES <= w.cols(); i += 2 * LANES) {
        transposed4x2(xs, t, w, i, y, f16);
      }
      transposedScalar(xs, t, 4, w, i, y);
    }
    for (; t < tokens; t++) {
      int i = 0;
      for (; i + 4 * LANES <= w.cols(); i += 4 * LANES) {
        transposed1x4(xs, t, w, i, y, f16);
      }
      transposedScalar(xs, t, 1, w, i, y);
    }
  }

  /**
   * Tokens t..t+3, columns i..i+2·LANES: eight accumulators live across all of w's rows, so each
   * weight vector is widened once for four tokens.
   */
  private static void transposed4x2(float[] xs, int t, Tensor w, int i, Tensor y, float[] f16) {
    MemorySegment seg = w.data();
    DType dt = w.dtype();
    int out = w.rows();
    FloatVector a00 = FloatVector.zero(FLOATS);
    FloatVector a01 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    int x0 = t * out;
    for (int o = 0; o < out; o++) {
      long base = w.index(o, i);
      FloatVector w0 = SimdLoads.load(seg, base, dt, f16);
      FloatVector w1 = SimdLoads.load(seg, base + LANES, dt, f16);
      FloatVector b = FloatVector.broadcast(FLOATS, xs[x0 + o]);
      a00 = w0.fma(b, a00);
      a01 = w1.fma(b, a01);
      b = FloatVector.broadcast(FLOATS, xs[x0 + out + o]);
      a10 = w0.fma(b, a10);
      a11 = w1.fma(b, a11);
      b = FloatVector.broadcast(FLOATS, xs[x0 + 2 * out + o]);
      a20 = w0.fma(b, a20);
      a21 = w1.fma(b, a21);
      b = FloatVector.broadcast(FLOATS, xs[x0 + 3 * out + o]);
      a30 = w0.fma(b, a30);
      a31 = w1.fma(b, a31);
    }
    store(y, t, i, a00, a01);
    store(y, t + 1, i, a10, a11);
    store(y, t + 2, i, a20, a21);
    store(y, t + 3, i, a30, a31);
  }

  /** One token, columns i..i+4·LANES: four accumulator chains hide the FMA latency. */
  private static void transposed1x4(float[] xs, int t, Tensor w, int i, Tensor y, float[] f16) {
    MemorySegment seg = w.data();
    DType dt = w.dtype();
    int out = w.rows();
    FloatVector a0 = FloatVector.zero(FLOATS);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    for (int o = 0; o < out; o++) {
      long base = w.index(o, i);
      FloatVector b = FloatVector.broadcast(FLOATS, xs[t * out + o]);
      a0 = SimdLoads.load(seg, base, dt, f16).fma(b, a0);
      a1 = SimdLoads.load(seg, base + LANES, dt, f16).fma(b, a1);
      a2 = SimdLoads.load(seg, base + 2 * LANES, dt, f16).fma(b, a2);
      a3 = SimdLoads.load(seg, base + 3 * LANES, dt, f16).fma(b, a3);
    }
    store(y, t, i, a0, a1);
    store(y, t, i + 2 * LANES, a2, a3);
  }

  private static void store(Tensor y, int t, int i, FloatVector a, FloatVector b) {
    long byteOffset = y.offset(t, i);
    a.intoMemorySegment(y.data(), byteOffset, SimdConstants.ORDER);
    b.intoMemorySegment(y.data(), byteOffset + 4L * LANES, SimdConstants.ORDER);
  }

  /** Columns [i0, in) of tokens t..t+count-1, one element at a time (the tail). */
  private static void transposedScalar(float[] xs, int t, int count, Tensor w, int i0, Tensor y) {
    int out = w.rows();
    for (int tt = t; tt < t + count; tt++) {
      for (int i = i0; i < w.cols(); i++) {
        float s = 0;
        for (int o = 0; o < out; o++) {
          s += xs[tt * out + o] * w.get(o, i);
        }
        y.set(tt, i, s);
      }
    }
  }
}
