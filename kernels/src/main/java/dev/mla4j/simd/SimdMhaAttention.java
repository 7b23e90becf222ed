package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.INTS;
import static dev.mla4j.simd.SimdConstants.LANES;
import static dev.mla4j.simd.SimdConstants.ORDER;

import dev.mla4j.api.MhaShape;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 * time the value vectors are widened and added into each row of their GQA group.
 *
 * <p>BF16 caches with d_h a multiple of 2·LANES take the "paired" path: one int vector load
 * holds 2·LANES BF16 values, {@code << 16} widens the even ones and {@code & 0xffff0000} the odd
 * ones, so no lane conversion is needed. Queries and accumulators are kept in the matching
 * even/odd order per chunk for the duration of the call ({@link #pair}, {@link #unpair}).
 */
final class SimdMhaAttention implements MhaKernel {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  /** Cached tokens per step: four independent FMA chains / four value rows per accumulator pass. */
  private static final int STEP = 4;
  private static final int Q = 0;
  private static final int P = 1;
  private static final int F16 = 2;
  private static final int ACC = 3;
  private static final int ROW = 4;

  @Override
  public void attend(MhaShape s, Tensor q, int firstQueryPos, KvCache cache, int layer,
      int from, int to, SoftmaxState state) {
    assert from % BLOCK == 0 && to <= cache.length(layer) : from + ".." + to;
    int dh = s.headDim();
    boolean quantized = cache.format().isQuantized();
    boolean paired = !quantized && cache.dtype() == DType.BF16 && dh % (2 * LANES) == 0
        && SimdConstants.ORDER == ByteOrder.LITTLE_ENDIAN;
    float[] qs = SimdScratch.floats(Q, state.rows * dh);
    float[] acc = paired ? SimdScratch.floats(ACC, state.rows * dh) : state.acc;
    float[] row0 = SimdScratch.floats(ROW, dh);
    for (int row = 0; row < state.rows; row++) {
      if (paired) {
        SimdLoads.widen(q, row, 0, dh, row0, 0, dh);
        pair(row0, 0, qs, row * dh, dh);
        pair(state.acc, row * dh, acc, row * dh, dh);
      } else {
        SimdLoads.widen(q, row, 0, dh, qs, row * dh, dh);
      }
    }
    Block work = new Block(s, qs, state, acc, paired, firstQueryPos,
        SimdScratch.floats(P, state.rows * BLOCK), SimdScratch.floats(F16, LANES));
    if (quantized) {
      foldQuantized(s, cache, layer, from, to, work);
    } else {
      for (int p0 = from; p0 < to; p0 += BLOCK) {
        work.fold(cache.keyBlock(layer, p0 / BLOCK), cache.valueBlock(layer, p0 / BLOCK), p0,
            Math.min(BLOCK, to - p0));
      }
    }
    if (paired) {
      for (int row = 0; row < state.rows; row++) {
        unpair(acc, row * dh, state.acc, row * dh, dh);
      }
    }
  }

  /**
   * Turns the first n raw scores of the row into exp(s·scale - max'), updates max and sum,
   * and rescales the row's accumulator {@code acc[row·width ..]} by exp(max - max') once for
   * the block.
   */
  static void softmax(float[] p, int row, int n, float scale, SoftmaxState state, float[] acc,
      int width) {
    int o = row * BLOCK;
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
      int a = row * width;
      for (int i = 0; i < width; i++) {
        acc[a + i] *= alpha;
      }
    }
  }

  /**
   * Causally visible tokens of query row {@code row} (token-major rows of n_h heads, the first
   * at position firstQueryPos) among a block's first n tokens, from position p0.
   */
  static int visible(MhaShape s, int firstQueryPos, int row, int p0, int n) {
    return Math.max(0, Math.min(n, firstQueryPos + row / s.heads() - p0 + 1));
  }

  /**
   * Quantized cache: blocks below the quantized length through {@link SimdQuantMhaBlock} (codes
   * dequantized in registers), then the recent-token window's BF16 rows through the plain
   * {@link Block#fold} in runs that do not wrap the ring.
   */
  private static void foldQuantized(MhaShape s, KvCache cache, int layer, int from, int to,
      Block work) {
    int quantizedEnd = Math.min(to, cache.quantizedLength(layer));
    if (from < quantizedEnd) {
      SimdQuantMhaBlock q = new SimdQuantMhaBlock(s, cache.format(), work.qs(), work.state(),
          work.firstQueryPos(), work.p());
      for (int p0 = from; p0 < quantizedEnd; p0 += BLOCK) {
        q.fold(cache.keyCodes(layer, p0 / BLOCK), cache.valueCodes(layer, p0 / BLOCK), p0,
            Math.min(BLOCK, quantizedEnd - p0));
      }
      q.finish();
    }
    int w = cache.format().window();
    for (int p = Math.max(from, quantizedEnd); p < to; ) {
      int n = Math.min(to - p, Math.min(w - p % w, BLOCK));
      work.fold(cache.keyWindow(layer).rows(p % w, n), cache.valueWindow(layer).rows(p % w, n), p,
          n);
      p += n;
    }
  }

  /**
   * Reorders each chunk of 2·LANES elements to its even elements then its odd ones: the order
   * in which {@link #pairedScores} and {@link #pairedValues} widen BF16 pairs.
   */
  private static void pair(float[] src, int from, float[] dst, int to, int n) {
    for (int c = 0; c < n; c += 2 * LANES) {
      for (int k = 0; k < LANES; k++) {
        dst[to + c + k] = src[from + c + 2 * k];
        dst[to + c + LANES + k] = src[from + c + 2 * k + 1];
      }
    }
  }

  /** Inverse of {@link #pair}. */
  private static void unpair(float[] src, int from, float[] dst, int to, int n) {
    for (int c = 0; c < n; c += 2 * LANES) {
      for (int k = 0; k < LANES; k++) {
        dst[to + c + 2 * k] = src[from + c + k];
        dst[to + c + 2 * k + 1] = src[from + c + LANES + k];
      }
    }
  }

  /** One call's operands; {@link #fold} folds one cache block into every query row. */
  private record Block(MhaShape s, float[] qs, SoftmaxState state, float[] acc, boolean paired,
      int firstQueryPos, float[] p, float[] f16) {

    int visible(int row, int p0, int n) {
      return SimdMhaAttention.visible(s, firstQueryPos, row, p0, n);
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
            if (paired) {
              pairedScores(row, keys, col, t, Math.min(t + 1, n - 1), Math.min(t + 2, n - 1),
                  Math.min(t + 3, n - 1));
            } else {
              scores(row, keys, col, t, Math.min(t + 1, n - 1), Math.min(t + 2, n - 1),
                  Math.min(t + 3, n - 1));
            }
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
          if (paired) {
            pairedValues(values, kv, t, n);
          } else {
            values(values, kv, t, n);
          }
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

    void softmax(int row, int n) {
      SimdMhaAttention.softmax(p, row, n, s.softmaxScale(), state, acc, s.headDim());
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
    /**
     * {@link #scores} for BF16 with d_h a multiple of 2·LANES: one int load holds 2·LANES
     * BF16 values; shifting left 16 widens the even ones and masking the low half widens the
     * odd ones, matching the query's {@link #pair}ed order. Half the loads and no lane
     * conversion per element compared with widening 16-bit lanes.
     */
    void pairedScores(int row, Tensor keys, int col, int ta, int tb, int tc, int td) {
      MemorySegment seg = keys.data();
      int dh = s.headDim();
      long ka = keys.offset(ta, col);
      long kb = keys.offset(tb, col);
      long kc = keys.offset(tc, col);
      long kd = keys.offset(td, col);
      FloatVector a0 = FloatVector.zero(FLOATS);
      FloatVector a1 = a0;
      FloatVector a2 = a0;
      FloatVector a3 = a0;
      int q0 = row * dh;
      for (int i = 0; i < dh; i += 2 * LANES) {
        FloatVector even = FloatVector.fromArray(FLOATS, qs, q0 + i);
        FloatVector odd = FloatVector.fromArray(FLOATS, qs, q0 + i + LANES);
        IntVector k = IntVector.fromMemorySegment(INTS, seg, ka + 2L * i, ORDER);
        a0 = even.fma(SimdLoads.low(k), odd.fma(SimdLoads.high(k), a0));
        k = IntVector.fromMemorySegment(INTS, seg, kb + 2L * i, ORDER);
        a1 = even.fma(SimdLoads.low(k), odd.fma(SimdLoads.high(k), a1));
        k = IntVector.fromMemorySegment(INTS, seg, kc + 2L * i, ORDER);
        a2 = even.fma(SimdLoads.low(k), odd.fma(SimdLoads.high(k), a2));
        k = IntVector.fromMemorySegment(INTS, seg, kd + 2L * i, ORDER);
        a3 = even.fma(SimdLoads.low(k), odd.fma(SimdLoads.high(k), a3));
      }
      int o = row * BLOCK;
      p[o + td] = a3.reduceLanes(VectorOperators.ADD);
      p[o + tc] = a2.reduceLanes(VectorOperators.ADD);
      p[o + tb] = a1.reduceLanes(VectorOperators.ADD);
      p[o + ta] = a0.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #values} for BF16 in the {@link #pair}ed order, as in {@link #pairedScores}. */
    void pairedValues(Tensor values, int kv, int t, int n) {
      MemorySegment seg = values.data();
      int dh = s.headDim();
      int col = kv * dh;
      long va = values.offset(t, col);
      long vb = values.offset(Math.min(t + 1, n - 1), col);
      long vc = values.offset(Math.min(t + 2, n - 1), col);
      long vd = values.offset(Math.min(t + 3, n - 1), col);
      for (int first = kv * s.groupSize(); first < state.rows; first += s.heads()) {
        for (int row = first; row < first + s.groupSize(); row++) {
          int o = row * BLOCK + t;
          FloatVector p0 = FloatVector.broadcast(FLOATS, p[o]);
          FloatVector p1 = FloatVector.broadcast(FLOATS, p[o + 1]);
          FloatVector p2 = FloatVector.broadcast(FLOATS, p[o + 2]);
          FloatVector p3 = FloatVector.broadcast(FLOATS, p[o + 3]);
          int a = row * dh;
          for (int i = 0; i < dh; i += 2 * LANES) {
            FloatVector even = FloatVector.fromArray(FLOATS, acc, a + i);
            FloatVector odd = FloatVector.fromArray(FLOATS, acc, a + i + LANES);
            IntVector v = IntVector.fromMemorySegment(INTS, seg, va + 2L * i, ORDER);
            even = SimdLoads.low(v).fma(p0, even);
            odd = SimdLoads.high(v).fma(p0, odd);
            v = IntVector.fromMemorySegment(INTS, seg, vb + 2L * i, ORDER);
            even = SimdLoads.low(v).fma(p1, even);
            odd = SimdLoads.high(v).fma(p1, odd);
            v = IntVector.fromMemorySegment(INTS, seg, vc + 2L * i, ORDER);
            even = SimdLoads.low(v).fma(p2, even);
            odd = SimdLoads.high(v).fma(p2, odd);
            v = IntVector.fromMemorySegment(INTS, seg, vd + 2L * i, ORDER);
            even = SimdLoads.low(v).fma(p3, even);
            odd = SimdLoads.high(v).fma(p3, odd);
            even.intoArray(acc, a + i);
            odd.intoArray(acc, a + i + LANES);
          }
        }
      }
    }
  }
}
