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
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * MHA/GQA attention. Decode does 2·n_h·d_h MACs per 2·n_kv·d_h cached elements, so it is
 * bandwidth-bound: keys and values are read straight from the cache blocks, widened in
 * registers, never copied. Each 64-token block is walked token-major, four cached tokens at a
 * time across all kv heads, so memory is read in long sequential runs the hardware prefetcher
 * follows (head-major order would jump n_kv·d_h elements between rows, a new page per row).
 *
 * <p>Per block: scores of every query row against four tokens at a time (one query load, four
 * widened key loads per vector); one online-softmax update per row; then for four tokens at a
 * time each value vector is widened once and added into every row of its GQA group.
 */
final class SimdMhaAttention implements MhaKernel {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  /** Cached tokens per step: four independent FMA chains / four value rows per accumulator pass. */
  private static final int STEP = 4;
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
    Block work = new Block(s, qs, state, firstQueryPos, SimdScratch.floats(P, state.rows * BLOCK),
        SimdScratch.floats(F16, LANES));
    for (int p0 = from; p0 < to; p0 += BLOCK) {
      work.fold(cache.keyBlock(layer, p0 / BLOCK), cache.valueBlock(layer, p0 / BLOCK), p0,
          Math.min(BLOCK, to - p0));
    }
  }

  /** One call's operands; {@link #fold} folds one cache block into every query row. */
  private record Block(MhaShape s, float[] qs, SoftmaxState state, int firstQueryPos, float[] p,
      float[] f16) {

    /** Causally visible tokens of row {@code row} among the block's first n, from p0. */
    int visible(int row, int p0, int n) {
      return Math.max(0, Math.min(n, firstQueryPos + row / s.heads() - p0 + 1));
    }

    void fold(Tensor keys, Tensor values, int p0, int n) {
      int heads = s.heads();
      int dh = s.headDim();
      int g = s.groupSize();
      int rows = state.rows;
      for (int t = 0; t < n; t += STEP) {
        for (int row = 0; row < rows; row++) {
          if (visible(row, p0, n) > t) {
            int col = (row % heads) / g * dh;
            scores(row, keys, col, t, Math.min(t + 1, n - 1), Math.min(t + 2, n - 1),
                Math.min(t + 3, n - 1));
          }
        }
      }
      for (int row = 0; row < rows; row++) {
        int v = visible(row, p0, n);
        Arrays.fill(p, row * BLOCK + v, (row + 1) * BLOCK, 0f); // masked and past-the-end
        if (v > 0) {
          softmax(row, v);
        }
      }
      for (int t = 0; t < n; t += STEP) {
        for (int kv = 0; kv < s.kvHeads(); kv++) {
          values(values, kv, t, n);
        }
      }
    }

    /**
     * Scores of row {@code row} against tokens ta..td (repeated at the block's tail) into
     * p[row][ta..td]: four accumulators, one query load and four widened key loads per vector.
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
      int o = row * BLOCK;
      p[o + td] = sd;
      p[o + tc] = sc;
      p[o + tb] = sb;
      p[o + ta] = sa;
    }

    /**
     * Turns the first n raw scores of the row into exp(s·scale - max'), updates max and sum,
     * and rescales the row's accumulator by exp(max - max') once for the block.
     */
    void softmax(int row, int n) {
      int o = row * BLOCK;
      float scale = s.softmaxScale();
      float top = Float.NEGATIVE_INFINITY;
      for (int t = 0; t < n; t++) {
        top = Math.max(top, p[o + t]);
      }
      float oldMax = state.max[row];
      float newMax = Math.max(oldMax, top * scale);
      int bound = FLOATS.loopBound(n);
      FloatVector sv = FloatVector.zero(FLOATS);
      for (int t = 0; t < bound; t += LANES) {
        FloatVector e = FloatVector.fromArray(FLOATS, p, o + t).mul(scale).sub(newMax)
            .lanewise(VectorOperators.EXP);
        e.intoArray(p, o + t);
        sv = sv.add(e);
      }
      float sum = sv.reduceLanes(VectorOperators.ADD);
      for (int t = bound; t < n; t++) {
        p[o + t] = (float) Math.exp(p[o + t] * scale - newMax);
        sum += p[o + t];
      }
      float alpha = (float) Math.exp(oldMax - newMax);
      state.max[row] = newMax;
      state.sum[row] = state.sum[row] * alpha + sum;
      if (alpha != 1f) {
        int a = row * s.headDim();
        for (int i = 0; i < s.headDim(); i++) {
          state.acc[a + i] *= alpha;
        }
      }
    }

    /**
     * {@code acc[row] += Σ_k p[row][t+k]·V[t+k]} for k < 4 and every query row of kv head
     * {@code kv}: the four probabilities are broadcast once, then each step widens four value
     * vectors and does four FMAs into one accumulator load/store. p is zero past the causal
     * limit, so repeated tail rows add nothing. Rows of a GQA group re-read the same four value
     * rows from L1.
     */
    void values(Tensor values, int kv, int t, int n) {
      MemorySegment seg = values.data();
      DType dt = values.dtype();
      int dh = s.headDim();
      int col = kv * dh;
      long va = values.index(t, col);
      long vb = values.index(Math.min(t + 1, n - 1), col);
      long vc = values.index(Math.min(t + 2, n - 1), col);
      long vd = values.index(Math.min(t + 3, n - 1), col);
      float[] acc = state.acc;
      int bound = FLOATS.loopBound(dh);
      for (int first = kv * s.groupSize(); first < state.rows; first += s.heads()) {
        for (int row = first; row < first + s.groupSize(); row++) {
          int o = row * BLOCK + t;
          FloatVector p0 = FloatVector.broadcast(FLOATS, p[o]);
          FloatVector p1 = FloatVector.broadcast(FLOATS, p[o + 1]);
          FloatVector p2 = FloatVector.broadcast(FLOATS, p[o + 2]);
          FloatVector p3 = FloatVector.broadcast(FLOATS, p[o + 3]);
          int a = row * dh;
          for (int i = 0; i < bound; i += LANES) {
            FloatVector x = FloatVector.fromArray(FLOATS, acc, a + i);
            x = SimdLoads.load(seg, va + i, dt, f16).fma(p0, x);
            x = SimdLoads.load(seg, vb + i, dt, f16).fma(p1, x);
            x = SimdLoads.load(seg, vc + i, dt, f16).fma(p2, x);
            x = SimdLoads.load(seg, vd + i, dt, f16).fma(p3, x);
            x.intoArray(acc, a + i);
          }
          for (int i = bound; i < dh; i++) {
            acc[a + i] += p[o] * dt.get(seg, va + i) + p[o + 1] * dt.get(seg, vb + i)
                + p[o + 2] * dt.get(seg, vc + i) + p[o + 3] * dt.get(seg, vd + i);
          }
        }
      }
    }
  }
}
