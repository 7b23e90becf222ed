package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Scratch, dimensions and micro-kernels of one MLA attention call over plain rows (see
 * {@link SimdMlaAttention}): queries, accumulators and softmax statistics padded to
 * {@link #ROWS} rows and whole vectors; {@link SimdQuantStage} stages quantized blocks into the
 * same rows.
 */
final class SimdMlaTile {
  /** Query rows per micro-tile. */
  static final int ROWS = 4;
  static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  private static final int Q = 0;
  private static final int Q_ROPE = 1;
  private static final int ACC = 2;
  private static final int LATENT = 3;
  private static final int K_ROPE = 4;
  private static final int P = 5;
  private static final int STATS = 6;
  private static final int KEY_OFFSETS = 0;

  final int heads;
  final int rows;
  final int rowsP;
  final int latentDim;
  /** L padded to whole pairs of vectors (the value kernel's column step). */
  final int lp;
  final int ropeDim;
  final int drp;
  /** Width of a widened rope row: one padded d_r per stored rope key. */
  final int krw;
  final int ropeKeys;
  final int firstQueryPos;
  final float scale;
  final float[] q;      // [rowsP][lp]
  final float[] qr;     // [rowsP][drp]
  final int[] keyOff;   // [rowsP] offset of the row's rope key in a widened rope row
  final float[] acc;    // [rowsP][lp]
  final float[] c;      // [BLOCK][lp]
  final float[] kr;     // [BLOCK][krw]
  final float[] p;      // [rowsP][BLOCK] scores, then probabilities
  final float[] stats;  // max [rowsP], sum [rowsP], alpha [rowsP]

  SimdMlaTile(MlaShape s, int rows, int firstQueryPos) {
    this.heads = s.heads();
    this.rows = rows;
    this.rowsP = SimdScratch.roundUp(rows, ROWS);
    this.latentDim = s.latentDim();
    this.lp = SimdScratch.roundUp(latentDim, 2 * LANES);
    this.ropeDim = s.ropeDim();
    this.drp = SimdScratch.roundUp(ropeDim, LANES);
    this.ropeKeys = s.ropeKeys() == RopeKeyLayout.SHARED ? 1 : s.kvHeads();
    this.krw = ropeKeys * drp;
    this.firstQueryPos = firstQueryPos;
    this.scale = s.softmaxScale();
    q = SimdScratch.floats(Q, rowsP * lp);
    qr = SimdScratch.floats(Q_ROPE, rowsP * drp);
    acc = SimdScratch.floats(ACC, rowsP * lp);
    c = SimdScratch.floats(LATENT, BLOCK * lp);
    kr = SimdScratch.floats(K_ROPE, BLOCK * krw);
    p = SimdScratch.floats(P, rowsP * BLOCK);
    stats = SimdScratch.floats(STATS, 3 * rowsP);
    keyOff = SimdScratch.ints(KEY_OFFSETS, rowsP);
    int group = s.heads() / s.kvHeads();
    for (int row = 0; row < rowsP; row++) {
      keyOff[row] = row < rows && ropeKeys > 1 ? (row % heads) / group * drp : 0;
    }
  }

  /** Query position of row {@code row}: rows are token-major, so positions never decrease. */
  int position(int row) {
    return firstQueryPos + row / heads;
  }

  void load(Tensor qRope, Tensor qLatent, SoftmaxState state) {
    for (int row = 0; row < rowsP; row++) {
      if (row < rows) {
        SimdLoads.widen(qLatent, row, 0, latentDim, q, row * lp, lp);
        SimdLoads.widen(qRope, row, 0, ropeDim, qr, row * drp, drp);
        System.arraycopy(state.acc, row * latentDim, acc, row * lp, latentDim);
        java.util.Arrays.fill(acc, row * lp + latentDim, (row + 1) * lp, 0f);
        stats[row] = state.max[row];
        stats[rowsP + row] = state.sum[row];
      } else {
        java.util.Arrays.fill(q, row * lp, (row + 1) * lp, 0f);
        java.util.Arrays.fill(qr, row * drp, (row + 1) * drp, 0f);
        java.util.Arrays.fill(acc, row * lp, (row + 1) * lp, 0f);
        stats[row] = Float.NEGATIVE_INFINITY;
        stats[rowsP + row] = 0f;
      }
    }
  }

  void store(SoftmaxState state) {
    for (int row = 0; row < rows; row++) {
      System.arraycopy(acc, row * lp, state.acc, row * latentDim, latentDim);
      state.max[row] = stats[row];
      state.sum[row] = stats[rowsP + row];
    }
  }

  /**
   * Folds cached positions {@code [p0, p0+n)}, n <= 64, into every row: their latents are rows
   * {@code latentRow0..} of {@code latent} and their rope keys rows {@code ropeRow0..} of
   * {@code rope} (a plain cache block, or a run of a window ring).
   */
  void block(Tensor latent, int latentRow0, Tensor rope, int ropeRow0, int p0, int n) {
    stageLatent(latent, latentRow0, n);
    stageRope(rope, ropeRow0, n);
    foldStaged(p0, n);
  }

  /** Widens latent rows {@code latentRow0..+n} of a plain block or ring into {@link #c}. */
  void stageLatent(Tensor latent, int latentRow0, int n) {
    SimdLoads.widenRows(latent, latentRow0, n, latentDim, c, lp);
  }

  /** Widens rope rows {@code ropeRow0..+n} of a plain block or ring into {@link #kr}. */
  void stageRope(Tensor rope, int ropeRow0, int n) {
    if (drp == ropeDim) { // no per-key padding: whole rope rows widen in one pass
      SimdLoads.widenRows(rope, ropeRow0, n, krw, kr, krw);
      return;
    }
    for (int t = 0; t < n; t++) {
      for (int k = 0; k < ropeKeys; k++) {
        SimdLoads.widen(rope, ropeRow0 + t, k * ropeDim, ropeDim, kr, t * krw + k * drp, drp);
      }
    }
  }

  /** Folds positions {@code [p0, p0+n)} whose rows are staged in {@link #c} and {@link #kr}. */
  void foldStaged(int p0, int n) {
    for (int r0 = 0; r0 < rowsP; r0 += ROWS) {
      if (!sees(r0, p0)) {
        continue;
      }
      for (int t = 0; t < n; t += 2) {
        scores(r0, t, Math.min(t + 1, n - 1));
      }
      for (int r = r0; r < r0 + ROWS; r++) {
        softmax(r, p0, n);
      }
      values(r0, n);
    }
  }

  /** Whether some row of the group from r0 sees position p0 (causal; false only in prefill). */
  boolean sees(int r0, int p0) {
    return position(Math.min(r0 + ROWS, rows) - 1) >= p0;
  }

  /**
   * Scores of rows r0..r0+3 against tokens ta and tb (tb == ta for an odd last token):
   * 4 x 2 accumulators over the rope part then the latent part, reduced once. Per latent
   * vector step: 2 token loads + 4 query loads feed 8 FMAs; 8 + 2 + 1 live vectors fit the 16
   * AVX2 registers.
   */
  void scores(int r0, int ta, int tb) {
    FloatVector a00 = FloatVector.zero(FLOATS);
    FloatVector a01 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    // rope part: each row may use a different kv head's key (MHA2MLA), so keys load per row
    int ka = ta * krw;
    int kb = tb * krw;
    for (int k = 0; k < drp; k += LANES) {
      FloatVector v = FloatVector.fromArray(FLOATS, qr, r0 * drp + k);
      a00 = v.fma(FloatVector.fromArray(FLOATS, kr, ka + keyOff[r0] + k), a00);
      a01 = v.fma(FloatVector.fromArray(FLOATS, kr, kb + keyOff[r0] + k), a01);
      v = FloatVector.fromArray(FLOATS, qr, (r0 + 1) * drp + k);
      a10 = v.fma(FloatVector.fromArray(FLOATS, kr, ka + keyOff[r0 + 1] + k), a10);
      a11 = v.fma(FloatVector.fromArray(FLOATS, kr, kb + keyOff[r0 + 1] + k), a11);
      v = FloatVector.fromArray(FLOATS, qr, (r0 + 2) * drp + k);
      a20 = v.fma(FloatVector.fromArray(FLOATS, kr, ka + keyOff[r0 + 2] + k), a20);
      a21 = v.fma(FloatVector.fromArray(FLOATS, kr, kb + keyOff[r0 + 2] + k), a21);
      v = FloatVector.fromArray(FLOATS, qr, (r0 + 3) * drp + k);
      a30 = v.fma(FloatVector.fromArray(FLOATS, kr, ka + keyOff[r0 + 3] + k), a30);
      a31 = v.fma(FloatVector.fromArray(FLOATS, kr, kb + keyOff[r0 + 3] + k), a31);
    }
    int ca = ta * lp;
    int cb = tb * lp;
    int q0 = r0 * lp;
    for (int k = 0; k < lp; k += LANES) {
      FloatVector c0 = FloatVector.fromArray(FLOATS, c, ca + k);
      FloatVector c1 = FloatVector.fromArray(FLOATS, c, cb + k);
      FloatVector v = FloatVector.fromArray(FLOATS, q, q0 + k);
      a00 = v.fma(c0, a00);
      a01 = v.fma(c1, a01);
      v = FloatVector.fromArray(FLOATS, q, q0 + lp + k);
      a10 = v.fma(c0, a10);
      a11 = v.fma(c1, a11);
      v = FloatVector.fromArray(FLOATS, q, q0 + 2 * lp + k);
      a20 = v.fma(c0, a20);
      a21 = v.fma(c1, a21);
      v = FloatVector.fromArray(FLOATS, q, q0 + 3 * lp + k);
      a30 = v.fma(c0, a30);
      a31 = v.fma(c1, a31);
    }
    int o = r0 * BLOCK;
    p[o + tb] = a01.reduceLanes(VectorOperators.ADD);
    p[o + ta] = a00.reduceLanes(VectorOperators.ADD);
    p[o + BLOCK + tb] = a11.reduceLanes(VectorOperators.ADD);
    p[o + BLOCK + ta] = a10.reduceLanes(VectorOperators.ADD);
    p[o + 2 * BLOCK + tb] = a21.reduceLanes(VectorOperators.ADD);
    p[o + 2 * BLOCK + ta] = a20.reduceLanes(VectorOperators.ADD);
    p[o + 3 * BLOCK + tb] = a31.reduceLanes(VectorOperators.ADD);
    p[o + 3 * BLOCK + ta] = a30.reduceLanes(VectorOperators.ADD);
  }

  /**
   * Online-softmax step of row {@code row} over the block's n scores: turns them into
   * probabilities {@code exp(s·scale - max')} (0 past the causal limit) and leaves the
   * accumulator rescale factor {@code exp(max - max')} in alpha.
   */
  void softmax(int row, int p0, int n) {
    int o = row * BLOCK;
    int visible = row < rows ? Math.min(n, position(row) - p0 + 1) : 0;
    if (visible <= 0) {
      java.util.Arrays.fill(p, o, o + n, 0f);
      stats[2 * rowsP + row] = 1f;
      return;
    }
    int bound = FLOATS.loopBound(visible);
    float top = Float.NEGATIVE_INFINITY;
    if (bound > 0) {
      FloatVector mv = FloatVector.fromArray(FLOATS, p, o);
      for (int t = LANES; t < bound; t += LANES) {
        mv = mv.max(FloatVector.fromArray(FLOATS, p, o + t));
      }
      top = mv.reduceLanes(VectorOperators.MAX);
    }
    for (int t = bound; t < visible; t++) {
      top = Math.max(top, p[o + t]);
    }
    float oldMax = stats[row];
    float newMax = Math.max(oldMax, top * scale);
    FloatVector sv = FloatVector.zero(FLOATS);
    for (int t = 0; t < bound; t += LANES) {
      FloatVector e = FloatVector.fromArray(FLOATS, p, o + t).mul(scale).sub(newMax)
          .lanewise(VectorOperators.EXP);
      e.intoArray(p, o + t);
      sv = sv.add(e);
    }
    float sum = sv.reduceLanes(VectorOperators.ADD);
    for (int t = bound; t < visible; t++) {
      float e = (float) Math.exp(p[o + t] * scale - newMax);
      p[o + t] = e;
      sum += e;
    }
    java.util.Arrays.fill(p, o + visible, o + n, 0f);
    float alpha = (float) Math.exp(oldMax - newMax);
    stats[row] = newMax;
    stats[rowsP + row] = stats[rowsP + row] * alpha + sum;
    stats[2 * rowsP + row] = alpha;
  }

  /**
   * {@code acc[r0..r0+3][:] = alpha·acc + P·C} over the block's n tokens, two vectors of L at
   * a time: per token 2 latent loads and 4 probability broadcasts feed 8 FMAs, and the 8
   * accumulators stay in registers for all n tokens.
   */
  void values(int r0, int n) {
    int alphas = 2 * rowsP + r0;
    FloatVector s0 = FloatVector.broadcast(FLOATS, stats[alphas]);
    FloatVector s1 = FloatVector.broadcast(FLOATS, stats[alphas + 1]);
    FloatVector s2 = FloatVector.broadcast(FLOATS, stats[alphas + 2]);
    FloatVector s3 = FloatVector.broadcast(FLOATS, stats[alphas + 3]);
    int p0 = r0 * BLOCK;
    for (int j = 0; j < lp; j += 2 * LANES) {
      int a = r0 * lp + j;
      FloatVector a00 = FloatVector.fromArray(FLOATS, acc, a).mul(s0);
      FloatVector a01 = FloatVector.fromArray(FLOATS, acc, a + LANES).mul(s0);
      FloatVector a10 = FloatVector.fromArray(FLOATS, acc, a + lp).mul(s1);
      FloatVector a11 = FloatVector.fromArray(FLOATS, acc, a + lp + LANES).mul(s1);
      FloatVector a20 = FloatVector.fromArray(FLOATS, acc, a + 2 * lp).mul(s2);
      FloatVector a21 = FloatVector.fromArray(FLOATS, acc, a + 2 * lp + LANES).mul(s2);
      FloatVector a30 = FloatVector.fromArray(FLOATS, acc, a + 3 * lp).mul(s3);
      FloatVector a31 = FloatVector.fromArray(FLOATS, acc, a + 3 * lp + LANES).mul(s3);
      for (int t = 0; t < n; t++) {
        FloatVector c0 = FloatVector.fromArray(FLOATS, c, t * lp + j);
        FloatVector c1 = FloatVector.fromArray(FLOATS, c, t * lp + j + LANES);
        FloatVector w = FloatVector.broadcast(FLOATS, p[p0 + t]);
        a00 = c0.fma(w, a00);
        a01 = c1.fma(w, a01);
        w = FloatVector.broadcast(FLOATS, p[p0 + BLOCK + t]);
        a10 = c0.fma(w, a10);
        a11 = c1.fma(w, a11);
        w = FloatVector.broadcast(FLOATS, p[p0 + 2 * BLOCK + t]);
        a20 = c0.fma(w, a20);
        a21 = c1.fma(w, a21);
        w = FloatVector.broadcast(FLOATS, p[p0 + 3 * BLOCK + t]);
        a30 = c0.fma(w, a30);
        a31 = c1.fma(w, a31);
      }
      a00.intoArray(acc, a);
      a01.intoArray(acc, a + LANES);
      a10.intoArray(acc, a + lp);
      a11.intoArray(acc, a + lp + LANES);
      a20.intoArray(acc, a + 2 * lp);
      a21.intoArray(acc, a + 2 * lp + LANES);
      a30.intoArray(acc, a + 3 * lp);
      a31.intoArray(acc, a + 3 * lp + LANES);
    }
  }
}
