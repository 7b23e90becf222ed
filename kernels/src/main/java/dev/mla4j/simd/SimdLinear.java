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
 * in registers, so it runs at read bandwidth; many tokens (GEMM) widen four weight rows of one
 * k block into scratch once per tile of {@link #TOKEN_TILE} tokens and reuse them for every
 * token of the tile.
 */
final class SimdLinear {
  /** Weight rows per micro-kernel: four independent accumulator chains hide the FMA latency. */
  private static final int ROWS = 4;
  /**
   * Tokens per GEMM tile: the tile's block of x ({@code TOKEN_TILE·K_BLOCK} floats, 256 KiB)
   * stays in a 512 KiB L2 while the weights stream past (measured on Zen 1: 512, 1024 and 2048
   * inputs per k block within noise of each other, 1024 a little ahead of 512).
   */
  private static final int TOKEN_TILE = 64;
  /** Input elements per GEMM k block: four widened weight rows (16 KiB) stay in L1. */
  private static final int K_BLOCK = 1024;
  private static final int X = 0;
  private static final int W = 1;
  private static final int F16 = 2;
  private static final int Y = 3;

  private SimdLinear() {}

  /** {@code y = x Wᵀ}: x {@code [T][in]}, w {@code [out][in]}, y {@code [T][out]}. */
  static void linear(Tensor x, Tensor w, Tensor y) {
    if (x.rows() > 1 || w.dtype() == DType.F16) {
      gemm(x, w, y);
      return;
    }
    int in = w.cols();
    float[] xs = SimdScratch.floats(X, SimdScratch.roundUp(in, LANES));
    SimdLoads.widen(x, 0, 0, in, xs, 0, SimdScratch.roundUp(in, LANES));
    gemv(xs, w, y);
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
   * Blocked over tokens ({@link #TOKEN_TILE}) and the input dimension ({@link #K_BLOCK}): per
   * tile and k block, four weight rows at a time are widened into scratch (an L1-sized piece)
   * and dotted with every token of the tile, three tokens at a time. x is widened once into
   * k-block-major order {@code xs [in/K_BLOCK][T][K_BLOCK]} and partial sums add up in
   * {@code ys [out/4][T][4]}, so the tile's operands are contiguous: rows a power-of-two stride
   * apart would share a handful of cache sets and thrash L1 and L2.
   */
  private static void gemm(Tensor x, Tensor w, Tensor y) {
    int tokens = y.rows();
    int out = w.rows();
    int in = w.cols();
    int inP = SimdScratch.roundUp(in, LANES);
    float[] xs = SimdScratch.floats(X, tokens * inP);
    for (int k0 = 0; k0 < in; k0 += K_BLOCK) {
      int n = Math.min(K_BLOCK, in - k0);
      int kc = SimdScratch.roundUp(n, LANES);
      for (int t = 0; t < tokens; t++) {
        SimdLoads.widen(x, t, k0, n, xs, tokens * k0 + t * kc, kc);
      }
    }
    int outP = SimdScratch.roundUp(out, ROWS);
    float[] ws = SimdScratch.floats(W, ROWS * K_BLOCK);
    float[] ys = SimdScratch.floats(Y, tokens * outP);
    java.util.Arrays.fill(ys, 0, tokens * outP, 0f);
    for (int t0 = 0; t0 < tokens; t0 += TOKEN_TILE) {
      int t1 = Math.min(tokens, t0 + TOKEN_TILE);
      for (int k0 = 0; k0 < in; k0 += K_BLOCK) {
        int n = Math.min(K_BLOCK, in - k0);
        int kc = SimdScratch.roundUp(n, LANES);
        for (int o = 0; o < out; o += ROWS) {
          int rows = Math.min(ROWS, out - o);
          for (int r = 0; r < ROWS; r++) {
            if (r < rows) {
              SimdLoads.widen(w, o + r, k0, n, ws, r * kc, kc);
            } else {
              java.util.Arrays.fill(ws, r * kc, (r + 1) * kc, 0f);
            }
          }
          for (int t = t0; t < t1; t += 3) {
            dot4x3(ws, kc, xs, tokens * k0 + t * kc, Math.min(3, t1 - t), ys,
                (o * tokens + t * ROWS));
          }
        }
      }
    }
    for (int t = 0; t < tokens; t++) {
      for (int o = 0; o < out; o++) {
        y.set(t, o, ys[(o / ROWS * tokens + t) * ROWS + o % ROWS]);
      }
    }
  }

  /**
   * {@code ys[t+j][r] += Σ_{i<kc} ws[r][i]·xs[t+j][i]} for r < 4 and j < tokens (at most 3),
   * with xs rows kc apart from {@code x0} and ys rows 4 apart from {@code y0}: twelve
   * accumulators (4 rows x 3 tokens) cost seven loads per twelve FMAs, and 12 + 3 + 1 live
   * vectors just fit the 16 AVX2 registers. Missing tokens repeat the last one.
   */
  private static void dot4x3(float[] ws, int kc, float[] xs, int x0, int tokens, float[] ys,
      int y0) {
    FloatVector a00 = FloatVector.zero(FLOATS);
    FloatVector a01 = a00;
    FloatVector a02 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a12 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a22 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    FloatVector a32 = a00;
    int xa = x0;
    int xb = x0 + Math.min(1, tokens - 1) * kc;
    int xc = x0 + (tokens - 1) * kc;
    for (int i = 0; i < kc; i += LANES) {
      FloatVector x0v = FloatVector.fromArray(FLOATS, xs, xa + i);
      FloatVector x1v = FloatVector.fromArray(FLOATS, xs, xb + i);
      FloatVector x2v = FloatVector.fromArray(FLOATS, xs, xc + i);
      FloatVector v = FloatVector.fromArray(FLOATS, ws, i);
      a00 = v.fma(x0v, a00);
      a01 = v.fma(x1v, a01);
      a02 = v.fma(x2v, a02);
      v = FloatVector.fromArray(FLOATS, ws, kc + i);
      a10 = v.fma(x0v, a10);
      a11 = v.fma(x1v, a11);
      a12 = v.fma(x2v, a12);
      v = FloatVector.fromArray(FLOATS, ws, 2 * kc + i);
      a20 = v.fma(x0v, a20);
      a21 = v.fma(x1v, a21);
      a22 = v.fma(x2v, a22);
      v = FloatVector.fromArray(FLOATS, ws, 3 * kc + i);
      a30 = v.fma(x0v, a30);
      a31 = v.fma(x1v, a31);
      a32 = v.fma(x2v, a32);
    }
    add(ys, y0, a00, a10, a20, a30);
    if (tokens > 1) {
      add(ys, y0 + ROWS, a01, a11, a21, a31);
    }
    if (tokens > 2) {
      add(ys, y0 + 2 * ROWS, a02, a12, a22, a32);
    }
  }

  /** Adds the lane sums of a0..a3 to ys[at..at+4). */
  private static void add(float[] ys, int at, FloatVector a0, FloatVector a1, FloatVector a2,
      FloatVector a3) {
    ys[at] += a0.reduceLanes(VectorOperators.ADD);
    ys[at + 1] += a1.reduceLanes(VectorOperators.ADD);
    ys[at + 2] += a2.reduceLanes(VectorOperators.ADD);
    ys[at + 3] += a3.reduceLanes(VectorOperators.ADD);
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
