package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Folds quantized blocks of a latent cache into a {@link SimdMlaTile}'s state, reading int8/int4
 * codes and BF16 scales straight from the block: codes are widened and scaled in registers, no
 * dequantized row or block is written anywhere.
 *
 * <p>Per block: the n·groups scales are widened once ({@code [64][groups]}, 1/groupSize of the
 * data). Per four query rows: rope scores ({@code [4][64]}, from plain or quantized keys); the
 * 4 x 2 latent score kernel, where each token vector is {@code codes · scale} of its group; the
 * tile's online softmax; then {@code acc[4][L] += W·codes} where {@code W[4][groups][64]} is
 * each probability times its token's group scale, so the value kernel's inner loop is the plain
 * kernel's with a byte load and conversion in place of a float load. Both kernels walk a group as
 * column pairs {@code (j, j + ceil(m/2))}: the two halves one int4 byte vector holds (int8 uses the
 * same order). Columns of a group left over by whole vectors are done one by one.
 */
final class SimdQuantMlaBlock {
  private static final int ROWS = SimdMlaTile.ROWS;
  private static final int BLOCK = SimdMlaTile.BLOCK;
  private static final int SCALES = 7;
  private static final int WEIGHTS = 8;
  private static final int ROPE_SCORES = 9;

  private final SimdMlaTile tile;
  private final LatentCache cache;
  private final QuantizedLayout layout;
  private final boolean int4;
  private final int groups;
  private final int groupSize;
  private final float[] sc;    // [BLOCK][groups] latent scales of the block
  private final float[] w;     // [ROWS][groups][BLOCK] probability x scale
  private final float[] rope;  // [ROWS][BLOCK] rope part of the scores
  private final float[] f16 = new float[LANES];

  SimdQuantMlaBlock(SimdMlaTile tile, LatentCache cache) {
    this.tile = tile;
    this.cache = cache;
    this.groupSize = cache.format().groupSize();
    this.int4 = cache.format().quantization() == Quantization.INT4;
    this.groups = (tile.latentDim + groupSize - 1) / groupSize;
    this.layout = new QuantizedLayout(cache.format().quantization(), 1, tile.latentDim, groupSize);
    this.sc = SimdScratch.floats(SCALES, BLOCK * groups);
    this.w = SimdScratch.floats(WEIGHTS, ROWS * groups * BLOCK);
    this.rope = SimdScratch.floats(ROPE_SCORES, ROWS * BLOCK);
  }

  /** Folds positions {@code [p0, p0+n)} of one block (p0 a multiple of 64) into every row. */
  void fold(int layer, int p0, int n) {
    assert p0 % BLOCK == 0 : p0;
    QuantizedBlock latent = cache.latentCodes(layer, p0 / BLOCK);
    MemorySegment seg = latent.data();
    for (int t = 0; t < n; t++) {
      long row = latent.scaleRow(t);
      for (int g = 0; g < groups; g++) {
        sc[t * groups + g] = SimdQuantLoads.scale(seg, row, g);
      }
    }
    for (int r0 = 0; r0 < tile.rowsP; r0 += ROWS) {
      if (!tile.sees(r0, p0)) {
        continue;
      }
      ropeScores(layer, p0 / BLOCK, r0, n);
      if (int4) {
        for (int t = 0; t < n; t++) {
          scores4(latent, r0, t);
        }
      } else {
        for (int t = 0; t < n; t += 2) {
          scores8(latent, r0, t, Math.min(t + 1, n - 1));
        }
      }
      for (int r = r0; r < r0 + ROWS; r++) {
        tile.softmax(r, p0, n);
      }
      for (int k = 0; k < ROWS; k++) {
        for (int g = 0; g < groups; g++) {
          for (int t = 0; t < n; t++) {
            w[(k * groups + g) * BLOCK + t] = tile.p[(r0 + k) * BLOCK + t] * sc[t * groups + g];
          }
        }
      }
      if (int4) {
        values4(latent, r0, n);
      } else {
        values8(latent, r0, n);
      }
    }
  }

  /** {@code rope[k][t] = qRope[r0+k] · kRope(t)} for the four rows' rope keys. */
  private void ropeScores(int layer, int block, int r0, int n) {
    int dr = tile.ropeDim;
    if (dr == 0) {
      java.util.Arrays.fill(rope, 0, ROWS * BLOCK, 0f);
      return;
    }
    boolean quantized = cache.ropeKeysQuantized();
    QuantizedBlock codes = quantized ? cache.ropeCodes(layer, block) : null;
    Tensor plain = quantized ? null : cache.ropeBlock(layer, block);
    int bound = FLOATS.loopBound(dr);
    for (int k = 0; k < ROWS; k++) {
      int row = r0 + k;
      int key = tile.keyOff[row] / tile.drp;
      int q0 = row * tile.drp;
      for (int t = 0; t < n; t++) {
        float s;
        if (quantized) {
          s = SimdQuantLoads.dot(tile.qr, q0, codes, t, key);
        } else {
          MemorySegment seg = plain.data();
          DType dt = plain.dtype();
          long base = plain.index(t, key * dr);
          FloatVector a = FloatVector.zero(FLOATS);
          for (int i = 0; i < bound; i += LANES) {
            a = FloatVector.fromArray(FLOATS, tile.qr, q0 + i)
                .fma(SimdLoads.load(seg, base + i, dt, f16), a);
          }
          s = a.reduceLanes(VectorOperators.ADD);
          for (int i = bound; i < dr; i++) {
            s += tile.qr[q0 + i] * dt.get(seg, base + i);
          }
        }
        rope[k * BLOCK + t] = s;
      }
    }
  }

  /**
   * Scores of rows r0..r0+3 against tokens ta and tb (tb == ta for an odd last token), int8:
   * per group the two tokens' code vectors are scaled once and feed 4 x 2 FMAs.
   */
  private void scores8(QuantizedBlock latent, int r0, int ta, int tb) {
    MemorySegment seg = latent.data();
    float[] q = tile.q;
    int lp = tile.lp;
    FloatVector a00 = FloatVector.zero(FLOATS);
    FloatVector a01 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    float[] tail = null;
    for (int g = 0; g < groups; g++) {
      int base = g * groupSize;
      int m = layout.groupLength(g);
      long ca = latent.codeRow(ta) + base;
      long cb = latent.codeRow(tb) + base;
      FloatVector sa = FloatVector.broadcast(FLOATS, sc[ta * groups + g]);
      FloatVector sb = FloatVector.broadcast(FLOATS, sc[tb * groups + g]);
      int bound = FLOATS.loopBound(m);
      for (int k = 0; k < bound; k += LANES) {
        FloatVector c0 = SimdQuantLoads.int8(seg, ca + k).mul(sa);
        FloatVector c1 = SimdQuantLoads.int8(seg, cb + k).mul(sb);
        int qi = r0 * lp + base + k;
        FloatVector v = FloatVector.fromArray(FLOATS, q, qi);
        a00 = v.fma(c0, a00);
        a01 = v.fma(c1, a01);
        v = FloatVector.fromArray(FLOATS, q, qi + lp);
        a10 = v.fma(c0, a10);
        a11 = v.fma(c1, a11);
        v = FloatVector.fromArray(FLOATS, q, qi + 2 * lp);
        a20 = v.fma(c0, a20);
        a21 = v.fma(c1, a21);
        v = FloatVector.fromArray(FLOATS, q, qi + 3 * lp);
        a30 = v.fma(c0, a30);
        a31 = v.fma(c1, a31);
      }
      if (bound < m) {
        tail = tailScores(tail, latent, r0, ta, tb, g, bound, m);
      }
    }
    storeScores(r0, ta, tb, tail, a00, a01, a10, a11, a20, a21, a30, a31);
  }

  /**
   * Scores of rows r0..r0+3 against token t, int4: one byte vector holds LANES elements of the
   * group's first half (low nibbles) and the matching LANES of its second half (high nibbles).
   * One token per call, unlike {@link #scores8}: with two tokens the method's four nibble
   * decodes per step outgrew C2's inlining budget and every decoded vector was boxed.
   */
  private void scores4(QuantizedBlock latent, int r0, int t) {
    MemorySegment seg = latent.data();
    float[] q = tile.q;
    int lp = tile.lp;
    FloatVector a0 = FloatVector.zero(FLOATS);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    float[] tail = null;
    for (int g = 0; g < groups; g++) {
      int base = g * groupSize;
      int m = layout.groupLength(g);
      int half = (m + 1) / 2;
      long ct = latent.codeRow(t) + layout.groupOffset(0, g);
      FloatVector st = FloatVector.broadcast(FLOATS, sc[t * groups + g]);
      int bound = FLOATS.loopBound(m / 2);
      for (int j = 0; j < bound; j += LANES) {
        FloatVector lo = SimdQuantLoads.lowNibbles(seg, ct + j).mul(st);
        FloatVector hi = SimdQuantLoads.highNibbles(seg, ct + j).mul(st);
        int qi = r0 * lp + base + j;
        int qh = qi + half;
        a0 = FloatVector.fromArray(FLOATS, q, qh).fma(hi,
            FloatVector.fromArray(FLOATS, q, qi).fma(lo, a0));
        a1 = FloatVector.fromArray(FLOATS, q, qh + lp).fma(hi,
            FloatVector.fromArray(FLOATS, q, qi + lp).fma(lo, a1));
        a2 = FloatVector.fromArray(FLOATS, q, qh + 2 * lp).fma(hi,
            FloatVector.fromArray(FLOATS, q, qi + 2 * lp).fma(lo, a2));
        a3 = FloatVector.fromArray(FLOATS, q, qh + 3 * lp).fma(hi,
            FloatVector.fromArray(FLOATS, q, qi + 3 * lp).fma(lo, a3));
      }
      if (2 * bound < m) {
        tail = tailScores(tail, latent, r0, t, t, g, bound, m);
      }
    }
    float[] p = tile.p;
    int o = r0 * BLOCK + t;
    p[o] = a0.reduceLanes(VectorOperators.ADD) + rope[t];
    p[o + BLOCK] = a1.reduceLanes(VectorOperators.ADD) + rope[BLOCK + t];
    p[o + 2 * BLOCK] = a2.reduceLanes(VectorOperators.ADD) + rope[2 * BLOCK + t];
    p[o + 3 * BLOCK] = a3.reduceLanes(VectorOperators.ADD) + rope[3 * BLOCK + t];
    if (tail != null) {
      for (int k = 0; k < ROWS; k++) {
        p[o + k * BLOCK] += tail[2 * k];
      }
    }
  }

  /**
   * Adds the elements of group g the vector loop left ({@link #pairs pairs} from {@code from}:
   * element j and j + ceil(m/2)) to the scalar tail sums {@code [ROWS][2]}, allocated on first use.
   */
  private float[] tailScores(float[] tail, QuantizedBlock latent, int r0, int ta, int tb, int g,
      int from, int m) {
    float[] sums = tail == null ? new float[2 * ROWS] : tail;
    MemorySegment seg = latent.data();
    long ga = latent.codeRow(ta) + layout.groupOffset(0, g);
    long gb = latent.codeRow(tb) + layout.groupOffset(0, g);
    float sa = sc[ta * groups + g];
    float sb = sc[tb * groups + g];
    for (int e : pairs(from, m)) {
      float ka = SimdQuantLoads.code(seg, ga, e, m, int4) * sa;
      float kb = SimdQuantLoads.code(seg, gb, e, m, int4) * sb;
      for (int k = 0; k < ROWS; k++) {
        float qv = tile.q[(r0 + k) * tile.lp + g * groupSize + e];
        sums[2 * k] += qv * ka;
        sums[2 * k + 1] += qv * kb;
      }
    }
    return sums;
  }

  /**
   * Elements of a group of m not covered by vector loops over column pairs {@code j < from}:
   * int8 walks elements in order ({@code from} elements done), int4 in pairs
   * {@code (j, j + ceil(m/2))} ({@code from} pairs done).
   */
  private int[] pairs(int from, int m) {
    if (!int4) {
      int[] rest = new int[m - from];
      for (int i = 0; i < rest.length; i++) {
        rest[i] = from + i;
      }
      return rest;
    }
    int half = (m + 1) / 2;
    int[] rest = new int[m - 2 * from];
    int i = 0;
    for (int j = from; j < half; j++) {
      rest[i++] = j;
      if (j + half < m) {
        rest[i++] = j + half;
      }
    }
    return rest;
  }

  /** Reduces the accumulators into {@code p[r0+k][ta|tb]}, adding rope scores and tails. */
  private void storeScores(int r0, int ta, int tb, float[] tail, FloatVector a00, FloatVector a01,
      FloatVector a10, FloatVector a11, FloatVector a20, FloatVector a21, FloatVector a30,
      FloatVector a31) {
    float[] p = tile.p;
    int o = r0 * BLOCK;
    p[o + tb] = a01.reduceLanes(VectorOperators.ADD) + rope[tb];
    p[o + ta] = a00.reduceLanes(VectorOperators.ADD) + rope[ta];
    p[o + BLOCK + tb] = a11.reduceLanes(VectorOperators.ADD) + rope[BLOCK + tb];
    p[o + BLOCK + ta] = a10.reduceLanes(VectorOperators.ADD) + rope[BLOCK + ta];
    p[o + 2 * BLOCK + tb] = a21.reduceLanes(VectorOperators.ADD) + rope[2 * BLOCK + tb];
    p[o + 2 * BLOCK + ta] = a20.reduceLanes(VectorOperators.ADD) + rope[2 * BLOCK + ta];
    p[o + 3 * BLOCK + tb] = a31.reduceLanes(VectorOperators.ADD) + rope[3 * BLOCK + tb];
    p[o + 3 * BLOCK + ta] = a30.reduceLanes(VectorOperators.ADD) + rope[3 * BLOCK + ta];
    if (tail != null) {
      for (int k = 0; k < ROWS; k++) {
        p[o + k * BLOCK + ta] += tail[2 * k];
        if (tb != ta) {
          p[o + k * BLOCK + tb] += tail[2 * k + 1];
        }
      }
    }
  }

  /**
   * {@code acc[r0..r0+3][:] = alpha·acc + W·codes} over the block's n tokens: per group, column
   * pairs (j, j + ceil(m/2)) of LANES each, 8 accumulators in registers for all n tokens; per
   * token two int8 byte loads and 4 weight broadcasts feed 8 FMAs. One method per code width,
   * so each stays within C2's inlining budget (see {@link #scores4}).
   */
  private void values8(QuantizedBlock latent, int r0, int n) {
    MemorySegment seg = latent.data();
    float[] acc = tile.acc;
    int lp = tile.lp;
    int alphas = 2 * tile.rowsP + r0;
    FloatVector s0 = FloatVector.broadcast(FLOATS, tile.stats[alphas]);
    FloatVector s1 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 1]);
    FloatVector s2 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 2]);
    FloatVector s3 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 3]);
    long rowBytes = layout.rowBytes();
    long codes0 = latent.codeRow(0);
    for (int g = 0; g < groups; g++) {
      int m = layout.groupLength(g);
      int half = (m + 1) / 2;
      long group = codes0 + layout.groupOffset(0, g);
      int w0 = g * BLOCK;
      int w1 = (groups + g) * BLOCK;
      int w2 = (2 * groups + g) * BLOCK;
      int w3 = (3 * groups + g) * BLOCK;
      int bound = FLOATS.loopBound(m / 2);
      for (int j = 0; j < bound; j += LANES) {
        int a = r0 * lp + g * groupSize + j;
        int h = a + half;
        FloatVector a00 = FloatVector.fromArray(FLOATS, acc, a).mul(s0);
        FloatVector a01 = FloatVector.fromArray(FLOATS, acc, h).mul(s0);
        FloatVector a10 = FloatVector.fromArray(FLOATS, acc, a + lp).mul(s1);
        FloatVector a11 = FloatVector.fromArray(FLOATS, acc, h + lp).mul(s1);
        FloatVector a20 = FloatVector.fromArray(FLOATS, acc, a + 2 * lp).mul(s2);
        FloatVector a21 = FloatVector.fromArray(FLOATS, acc, h + 2 * lp).mul(s2);
        FloatVector a30 = FloatVector.fromArray(FLOATS, acc, a + 3 * lp).mul(s3);
        FloatVector a31 = FloatVector.fromArray(FLOATS, acc, h + 3 * lp).mul(s3);
        for (int t = 0; t < n; t++) {
          long at = group + t * rowBytes + j;
          FloatVector c0 = SimdQuantLoads.int8(seg, at);
          FloatVector c1 = SimdQuantLoads.int8(seg, at + half);
          FloatVector x = FloatVector.broadcast(FLOATS, w[w0 + t]);
          a00 = c0.fma(x, a00);
          a01 = c1.fma(x, a01);
          x = FloatVector.broadcast(FLOATS, w[w1 + t]);
          a10 = c0.fma(x, a10);
          a11 = c1.fma(x, a11);
          x = FloatVector.broadcast(FLOATS, w[w2 + t]);
          a20 = c0.fma(x, a20);
          a21 = c1.fma(x, a21);
          x = FloatVector.broadcast(FLOATS, w[w3 + t]);
          a30 = c0.fma(x, a30);
          a31 = c1.fma(x, a31);
        }
        a00.intoArray(acc, a);
        a01.intoArray(acc, h);
        a10.intoArray(acc, a + lp);
        a11.intoArray(acc, h + lp);
        a20.intoArray(acc, a + 2 * lp);
        a21.intoArray(acc, h + 2 * lp);
        a30.intoArray(acc, a + 3 * lp);
        a31.intoArray(acc, h + 3 * lp);
      }
      if (2 * bound < m) { // the same (j, j + half) pairs as int4
        tailValues(seg, group, r0, g, m, bound, n);
      }
    }
  }

  /**
   * {@link #values8} for int4: per token one byte vector gives both columns of a pair.
   */
  private void values4(QuantizedBlock latent, int r0, int n) {
    MemorySegment seg = latent.data();
    float[] acc = tile.acc;
    int lp = tile.lp;
    int alphas = 2 * tile.rowsP + r0;
    FloatVector s0 = FloatVector.broadcast(FLOATS, tile.stats[alphas]);
    FloatVector s1 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 1]);
    FloatVector s2 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 2]);
    FloatVector s3 = FloatVector.broadcast(FLOATS, tile.stats[alphas + 3]);
    long rowBytes = layout.rowBytes();
    long codes0 = latent.codeRow(0);
    for (int g = 0; g < groups; g++) {
      int m = layout.groupLength(g);
      int half = (m + 1) / 2;
      long group = codes0 + layout.groupOffset(0, g);
      int w0 = g * BLOCK;
      int w1 = (groups + g) * BLOCK;
      int w2 = (2 * groups + g) * BLOCK;
      int w3 = (3 * groups + g) * BLOCK;
      int bound = FLOATS.loopBound(m / 2);
      for (int j = 0; j < bound; j += LANES) {
        int a = r0 * lp + g * groupSize + j;
        int h = a + half;
        FloatVector a00 = FloatVector.fromArray(FLOATS, acc, a).mul(s0);
        FloatVector a01 = FloatVector.fromArray(FLOATS, acc, h).mul(s0);
        FloatVector a10 = FloatVector.fromArray(FLOATS, acc, a + lp).mul(s1);
        FloatVector a11 = FloatVector.fromArray(FLOATS, acc, h + lp).mul(s1);
        FloatVector a20 = FloatVector.fromArray(FLOATS, acc, a + 2 * lp).mul(s2);
        FloatVector a21 = FloatVector.fromArray(FLOATS, acc, h + 2 * lp).mul(s2);
        FloatVector a30 = FloatVector.fromArray(FLOATS, acc, a + 3 * lp).mul(s3);
        FloatVector a31 = FloatVector.fromArray(FLOATS, acc, h + 3 * lp).mul(s3);
        for (int t = 0; t < n; t++) {
          long at = group + t * rowBytes + j;
          FloatVector c0 = SimdQuantLoads.lowNibbles(seg, at);
          FloatVector c1 = SimdQuantLoads.highNibbles(seg, at);
          FloatVector x = FloatVector.broadcast(FLOATS, w[w0 + t]);
          a00 = c0.fma(x, a00);
          a01 = c1.fma(x, a01);
          x = FloatVector.broadcast(FLOATS, w[w1 + t]);
          a10 = c0.fma(x, a10);
          a11 = c1.fma(x, a11);
          x = FloatVector.broadcast(FLOATS, w[w2 + t]);
          a20 = c0.fma(x, a20);
          a21 = c1.fma(x, a21);
          x = FloatVector.broadcast(FLOATS, w[w3 + t]);
          a30 = c0.fma(x, a30);
          a31 = c1.fma(x, a31);
        }
        a00.intoArray(acc, a);
        a01.intoArray(acc, h);
        a10.intoArray(acc, a + lp);
        a11.intoArray(acc, h + lp);
        a20.intoArray(acc, a + 2 * lp);
        a21.intoArray(acc, h + 2 * lp);
        a30.intoArray(acc, a + 3 * lp);
        a31.intoArray(acc, h + 3 * lp);
      }
      if (2 * bound < m) {
        tailValues(seg, group, r0, g, m, bound, n);
      }
    }
  }

  /** Columns of group g not covered by {@link #values}' vector pairs, one at a time. */
  private void tailValues(MemorySegment seg, long group, int r0, int g, int m, int from, int n) {
    int half = (m + 1) / 2;
    long rowBytes = layout.rowBytes();
    for (int j = from; j < half; j++) {
      for (int e = j; e < m; e += half) { // element j, then j + half when it exists
        int col = g * groupSize + e;
        for (int k = 0; k < ROWS; k++) {
          int a = (r0 + k) * tile.lp + col;
          float sum = tile.acc[a] * tile.stats[2 * tile.rowsP + r0 + k];
          int wk = (k * groups + g) * BLOCK;
          for (int t = 0; t < n; t++) {
            sum += w[wk + t] * SimdQuantLoads.code(seg, group + t * rowBytes, e, m, int4);
          }
          tile.acc[a] = sum;
        }
      }
    }
  }
}
