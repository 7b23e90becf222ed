package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.api.MhaShape;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * MHA/GQA attention. Decode does 2·n_h·d_h MACs per 2·n_kv·d_h cached elements, so it is
 * bandwidth-bound: keys and values are read straight from the cache blocks and widened in
 * registers, never copied. Work runs per 64-token block and kv head; the query rows of the GQA
 * group (and of every query token) then read that head's K/V slice (16 KiB at d_h=128, BF16)
 * from cache rather than memory. Per row: scores of four tokens at a time, one online-softmax
 * update per block, then {@code acc += P·V} with four vectors of d_h held in registers.
 */
final class SimdMhaAttention implements MhaKernel {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  private static final int Q = 0;
  private static final int P = 1;
  private static final int F16 = 2;

  @Override
  public void attend(MhaShape s, Tensor q, int firstQueryPos, KvCache cache, int layer,
      int from, int to, SoftmaxState state) {
    assert from % BLOCK == 0 && to <= cache.length(layer) : from + ".." + to;
    int dh = s.headDim();
    float[] qs = SimdScratch.floats(Q, state.rows * dh);
    for (int row = 0; row < state.rows; row++) {
      SimdLoads.widen(q, row, 0, dh, qs, row * dh, dh);
    }
    Rows work = new Rows(s, qs, state, SimdScratch.floats(P, BLOCK),
        SimdScratch.floats(F16, LANES));
    for (int p0 = from; p0 < to; p0 += BLOCK) {
      Tensor keys = cache.keyBlock(layer, p0 / BLOCK);
      Tensor values = cache.valueBlock(layer, p0 / BLOCK);
      int n = Math.min(BLOCK, to - p0);
      for (int kv = 0; kv < s.kvHeads(); kv++) {
        for (int row = 0; row < state.rows; row++) {
          int head = row % s.heads();
          int visible = Math.min(n, firstQueryPos + row / s.heads() - p0 + 1);
          if (head / s.groupSize() == kv && visible > 0) {
            work.row(row, keys, values, kv * dh, visible);
          }
        }
      }
    }
  }

  /** One call's operands; {@link #row} folds one block of one kv head into one query row. */
  private record Rows(MhaShape s, float[] qs, SoftmaxState state, float[] p, float[] f16) {

    void row(int row, Tensor keys, Tensor values, int col, int n) {
      int dh = s.headDim();
      for (int t = 0; t < n; t += 4) {
        scores(row, keys, col, t, Math.min(t + 1, n - 1), Math.min(t + 2, n - 1),
            Math.min(t + 3, n - 1));
      }
      float alpha = softmax(row, n);
      int j = 0;
      for (; j + 4 * LANES <= dh; j += 4 * LANES) {
        values4(row, values, col, j, n, alpha);
      }
      for (; j < dh; j++) {
        int a = row * dh + j;
        float sum = state.acc[a] * alpha;
        for (int t = 0; t < n; t++) {
          sum += p[t] * values.get(t, col + j);
        }
        state.acc[a] = sum;
      }
    }

    /**
     * Scores of row {@code row} against tokens ta..td (repeated indices at the block's tail):
     * four accumulators, one query load and four widened key loads per vector of d_h.
     */
    void scores(int row, Tensor keys, int col, int ta, int tb, int tc, int td) {
      MemorySegment seg = keys.data();
      DType dt = keys.dtype();
      int dh = s.headDim();
      long ka = keys.index(ta, col);
      long kb = keys.index(tb, col);
      long kc = keys.index(tc, col);
      long kd = keys.index(td, col);
      FloatVector a0 = FloatVector.zero(FLOATS);
      FloatVector a1 = a0;
      FloatVector a2 = a0;
      FloatVector a3 = a0;
      int q0 = row * dh;
      int bound = FLOATS.loopBound(dh);
      for (int i = 0; i < bound; i += LANES) {
        FloatVector v = FloatVector.fromArray(FLOATS, qs, q0 + i);
        a0 = v.fma(SimdLoads.load(seg, ka + i, dt, f16), a0);
        a1 = v.fma(SimdLoads.load(seg, kb + i, dt, f16), a1);
        a2 = v.fma(SimdLoads.load(seg, kc + i, dt, f16), a2);
        a3 = v.fma(SimdLoads.load(seg, kd + i, dt, f16), a3);
      }
      float sa = a0.reduceLanes(VectorOperators.ADD);
      float sb = a1.reduceLanes(VectorOperators.ADD);
      float sc = a2.reduceLanes(VectorOperators.ADD);
      float sd = a3.reduceLanes(VectorOperators.ADD);
      for (int i = bound; i < dh; i++) {
        float qi = qs[q0 + i];
        sa += qi * dt.get(seg, ka + i);
        sb += qi * dt.get(seg, kb + i);
        sc += qi * dt.get(seg, kc + i);
        sd += qi * dt.get(seg, kd + i);
      }
      p[td] = sd;
      p[tc] = sc;
      p[tb] = sb;
      p[ta] = sa;
    }

    /** Turns the n raw scores into exp(s·scale - max'), updates max/sum, returns the rescale. */
    float softmax(int row, int n) {
      float scale = s.softmaxScale();
      float top = Float.NEGATIVE_INFINITY;
      for (int t = 0; t < n; t++) {
        top = Math.max(top, p[t]);
      }
      float oldMax = state.max[row];
      float newMax = Math.max(oldMax, top * scale);
      int bound = FLOATS.loopBound(n);
      FloatVector sv = FloatVector.zero(FLOATS);
      for (int t = 0; t < bound; t += LANES) {
        FloatVector e = FloatVector.fromArray(FLOATS, p, t).mul(scale).sub(newMax)
            .lanewise(VectorOperators.EXP);
        e.intoArray(p, t);
        sv = sv.add(e);
      }
      float sum = sv.reduceLanes(VectorOperators.ADD);
      for (int t = bound; t < n; t++) {
        p[t] = (float) Math.exp(p[t] * scale - newMax);
        sum += p[t];
      }
      float alpha = (float) Math.exp(oldMax - newMax);
      state.max[row] = newMax;
      state.sum[row] = state.sum[row] * alpha + sum;
      return alpha;
    }

    /**
     * {@code acc[row][j..j+4·LANES) = alpha·acc + Σ_t p[t]·V[t]}: four accumulator chains hide
     * the FMA latency; each value vector is widened in registers and used once.
     */
    void values4(int row, Tensor values, int col, int j, int n, float alpha) {
      MemorySegment seg = values.data();
      DType dt = values.dtype();
      int a = row * s.headDim() + j;
      float[] acc = state.acc;
      FloatVector a0 = FloatVector.fromArray(FLOATS, acc, a).mul(alpha);
      FloatVector a1 = FloatVector.fromArray(FLOATS, acc, a + LANES).mul(alpha);
      FloatVector a2 = FloatVector.fromArray(FLOATS, acc, a + 2 * LANES).mul(alpha);
      FloatVector a3 = FloatVector.fromArray(FLOATS, acc, a + 3 * LANES).mul(alpha);
      for (int t = 0; t < n; t++) {
        long v = values.index(t, col + j);
        FloatVector w = FloatVector.broadcast(FLOATS, p[t]);
        a0 = SimdLoads.load(seg, v, dt, f16).fma(w, a0);
        a1 = SimdLoads.load(seg, v + LANES, dt, f16).fma(w, a1);
        a2 = SimdLoads.load(seg, v + 2 * LANES, dt, f16).fma(w, a2);
        a3 = SimdLoads.load(seg, v + 3 * LANES, dt, f16).fma(w, a3);
      }
      a0.intoArray(acc, a);
      a1.intoArray(acc, a + LANES);
      a2.intoArray(acc, a + 2 * LANES);
      a3.intoArray(acc, a + 3 * LANES);
    }
  }
}
