package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;

import dev.mla4j.api.MhaShape;
import dev.mla4j.attention.SoftmaxState;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.CacheFormat.Quantization;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedBlock;
import dev.mla4j.cache.QuantizedLayout;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * MHA/GQA attention over quantized blocks of a {@link dev.mla4j.cache.KvCache}: K and V are
 * int8/int4/fp8 with one segment per kv head ({@link QuantizedLayout}), read straight from the
 * block and dequantized in registers, the block walked token-major ({@link #fold}). Per (row,
 * token) the score sums each group's {@code q · codes} in vector lanes and scales it once per
 * group; the value update adds {@code codes · (p · scale)} per group. Groups are walked as
 * column pairs {@code (j, j + ceil(m/2))}, the two halves one int4 byte vector holds; leftovers
 * one by one.
 *
 * <p>int8 with whole groups of a multiple of 4·LANES codes takes the "quad" path instead: one
 * int vector load holds 4·LANES codes, byte k of lane i being code 4i + k of its chunk, and two
 * shifts take out each quarter as a float vector ({@link SimdQuantLoads#byteLane}): a quarter of
 * the loads, each a bounds-checked segment access, and no byte-to-int lane conversion. Queries
 * and accumulators are used in the matching order, chunk by chunk ({@link #toQuad}), from the
 * constructor to {@link #finish}, as SimdMhaAttention keeps its paired BF16 order for a call.
 * (fp8 on the same path was 10-50x slower: its eight E4M3 decodes per chunk made the bodies too
 * big for C2, whose vectors then went through the heap.)
 */
final class SimdQuantMhaBlock {
  private static final int BLOCK = PagedLayers.BLOCK_TOKENS;
  /** SimdScratch slots past SimdMhaAttention's, which is running while this is. */
  private static final int QUAD_Q = 5;
  private static final int QUAD_ACC = 6;

  private final MhaShape s;
  private final QuantizedLayout layout;
  private final Quantization quantization;
  private final float[] qs;   // [rows][d_h]
  private final SoftmaxState state;
  private final int firstQueryPos;
  private final float[] p;    // [rows][BLOCK]
  private final boolean quad;
  private final float[] quadQs;   // quad: qs in quad order, [rows][d_h]
  private final float[] acc;      // the accumulators: state.acc, or a copy in quad order
  // The layout's strides, computed once: QuantizedLayout derives them with integer divisions,
  // which C2 did not hoist out of the per-token loops.
  private final int groups;        // groups per kv head
  private final long rowBytes;     // code bytes per token
  private final long scaleBytes;   // scale bytes per token
  private final long headBytes;    // code bytes per kv head
  private final long groupBytes;   // code bytes per full group

  SimdQuantMhaBlock(MhaShape s, CacheFormat format, float[] qs, SoftmaxState state,
      int firstQueryPos, float[] p) {
    this.s = s;
    this.layout = new QuantizedLayout(format.quantization(), s.kvHeads(), s.headDim(),
        format.groupSize());
    this.quantization = format.quantization();
    this.groups = layout.groupsPerSegment();
    this.rowBytes = layout.rowBytes();
    this.scaleBytes = 2L * layout.scalesPerRow();
    this.headBytes = layout.segmentBytes();
    this.groupBytes = layout.groupBytes(layout.groupSize());
    this.qs = qs;
    this.state = state;
    this.firstQueryPos = firstQueryPos;
    this.p = p;
    this.quad = quantization == Quantization.INT8 && format.groupSize() % (4 * LANES) == 0
        && s.headDim() % format.groupSize() == 0
        && SimdConstants.ORDER == ByteOrder.LITTLE_ENDIAN;
    int n = state.rows * s.headDim();
    this.quadQs = quad ? SimdScratch.floats(QUAD_Q, n) : null;
    this.acc = quad ? SimdScratch.floats(QUAD_ACC, n) : state.acc;
    if (quad) {
      toQuad(qs, quadQs, n);
      toQuad(state.acc, acc, n);
    }
  }

  /** After the last {@link #fold}: the accumulators back into state.acc in natural order. */
  void finish() {
    if (quad) {
      fromQuad(acc, state.acc, state.rows * s.headDim());
    }
  }

  /** Code 4i + k of each 4·LANES chunk to position k·LANES + i, the order of a quad load. */
  static void toQuad(float[] src, float[] dst, int n) {
    for (int c = 0; c < n; c += 4 * LANES) {
      for (int i = 0; i < LANES; i++) {
        for (int k = 0; k < 4; k++) {
          dst[c + k * LANES + i] = src[c + 4 * i + k];
        }
      }
    }
  }

  /** Inverse of {@link #toQuad}. */
  static void fromQuad(float[] src, float[] dst, int n) {
    for (int c = 0; c < n; c += 4 * LANES) {
      for (int i = 0; i < LANES; i++) {
        for (int k = 0; k < 4; k++) {
          dst[c + 4 * i + k] = src[c + k * LANES + i];
        }
      }
    }
  }

  /**
   * Folds positions {@code [p0, p0+n)} of one block (p0 a multiple of 64) into every row. Both
   * passes walk the block token-major, a pair of tokens against every row, as the BF16 kernel
   * does: a token's codes for all kv heads are one sequential run, where row by row each token
   * was a jump of a whole code row (4 KB for Llama-2-7B's int8 K), a new page the prefetchers
   * do not follow.
   */
  void fold(QuantizedBlock keys, QuantizedBlock values, int p0, int n) {
    int rows = state.rows;
    for (int t = 0; t < n; t += 2) {
      for (int row = 0; row < rows; row++) {
        int visible = visible(row, p0, n);
        if (visible > t) {
          int tb = Math.min(t + 1, visible - 1);
          if (quad) {
            quadScores(row, keys, kv(row), row * BLOCK, t, tb);
          } else {
            scores(row, keys, kv(row), row * BLOCK, t, tb);
          }
        }
      }
    }
    for (int row = 0; row < rows; row++) {
      int visible = visible(row, p0, n);
      Arrays.fill(p, row * BLOCK + visible, (row + 1) * BLOCK, 0f);
      if (visible > 0) {
        SimdMhaAttention.softmax(p, row, visible, s.softmaxScale(), state, acc, s.headDim());
      }
    }
    for (int t = 0; t < n; t += 2) {
      for (int row = 0; row < rows; row++) {
        int visible = visible(row, p0, n);
        if (visible > t) {
          if (quad) {
            quadValues(row, values, kv(row), row * BLOCK, t, visible);
          } else {
            addValues(row, values, kv(row), row * BLOCK, t, visible);
          }
        }
      }
    }
  }

  private int visible(int row, int p0, int n) {
    return SimdMhaAttention.visible(s, firstQueryPos, row, p0, n);
  }

  private int kv(int row) {
    return (row % s.heads()) / s.groupSize();
  }

  /**
   * {@code q[row] · K(t)} for kv head {@code kv} and tokens ta, tb (tb = ta at the block's tail)
   * into p[o + t]: per group two vector dots sharing each query load, each scaled once by its
   * token's group scale into a per-token vector total, reduced once per token at the end. One
   * token per call left a single FMA chain per group; four per call made the FP8 body too big
   * for C2 (NodeCountInliningCutoff: the last load was not inlined and boxed its vector).
   */
  private void scores(int row, QuantizedBlock keys, int kv, int o, int ta, int tb) {
    MemorySegment seg = keys.data();
    long ca = keys.codes() + ta * rowBytes;
    long cb = keys.codes() + tb * rowBytes;
    long xra = keys.scales() + ta * scaleBytes;
    long xrb = keys.scales() + tb * scaleBytes;
    int q0 = row * s.headDim();
    boolean int4 = quantization == Quantization.INT4;
    boolean fp8 = quantization == Quantization.FP8;
    FloatVector sa = FloatVector.zero(FLOATS);
    FloatVector sb = sa;
    float ra = 0;
    float rb = 0;
    for (int g = 0; g < groups; g++) {
      int m = layout.groupLength(g);
      int half = (m + 1) / 2;
      long offset = kv * headBytes + g * groupBytes;
      int qg = q0 + g * layout.groupSize();
      int bound = FLOATS.loopBound(m / 2);
      FloatVector a0 = FloatVector.zero(FLOATS);
      FloatVector a1 = a0;
      long ga = ca + offset;
      long gb = cb + offset;
      int hb = int4 ? 0 : half;  // byte offset of the second half's codes
      for (int j = 0; j < bound; j += LANES) {
        FloatVector qlo = FloatVector.fromArray(FLOATS, qs, qg + j);
        FloatVector qhi = FloatVector.fromArray(FLOATS, qs, qg + half + j);
        a0 = first(seg, ga + j, int4, fp8).fma(qlo, a0);
        a1 = first(seg, gb + j, int4, fp8).fma(qlo, a1);
        a0 = second(seg, ga + hb + j, int4, fp8).fma(qhi, a0);
        a1 = second(seg, gb + hb + j, int4, fp8).fma(qhi, a1);
      }
      int si = kv * groups + g;
      float xa = SimdQuantLoads.scale(seg, xra, si);
      float xb = SimdQuantLoads.scale(seg, xrb, si);
      sa = a0.fma(FloatVector.broadcast(FLOATS, xa), sa);
      sb = a1.fma(FloatVector.broadcast(FLOATS, xb), sb);
      if (bound < half) {
        ra += rest(seg, ga, qg, bound, half, m) * xa;
        rb += rest(seg, gb, qg, bound, half, m) * xb;
      }
    }
    p[o + tb] = sb.reduceLanes(VectorOperators.ADD) + rb;
    p[o + ta] = sa.reduceLanes(VectorOperators.ADD) + ra;
  }

  /** The columns of one token's group past the vector loop, {@code j >= bound}, as a plain dot. */
  private float rest(MemorySegment seg, long group, int qg, int bound, int half, int m) {
    float sum = 0;
    for (int j = bound; j < half; j++) {
      for (int e = j; e < m; e += half) {
        sum += qs[qg + e] * SimdQuantLoads.code(seg, group, e, m, quantization);
      }
    }
    return sum;
  }

  /**
   * Codes of a group's first half at byte {@code off} (int4: low nibbles). It calls the loads
   * directly rather than through {@link SimdQuantLoads#byteCodes}: one call level less keeps
   * every load of {@link #scores} inlined by C2.
   */
  private static FloatVector first(MemorySegment seg, long off, boolean int4, boolean fp8) {
    return int4 ? SimdQuantLoads.lowNibbles(seg, off)
        : fp8 ? SimdQuantLoads.fp8(seg, off) : SimdQuantLoads.int8(seg, off);
  }

  /** Codes of a group's second half at byte {@code off} (int4: high nibbles, same bytes). */
  private static FloatVector second(MemorySegment seg, long off, boolean int4, boolean fp8) {
    return int4 ? SimdQuantLoads.highNibbles(seg, off)
        : fp8 ? SimdQuantLoads.fp8(seg, off) : SimdQuantLoads.int8(seg, off);
  }

  /**
   * {@code acc[row] += p[ta]·V(ta) + p[tb]·V(tb)} for kv head {@code kv}, tb = ta + 1 when it is
   * visible (else ta again, with weight 0): per group each token's probability times its group
   * scale is broadcast once, then two code vectors per token and accumulator pair.
   */
  private void addValues(int row, QuantizedBlock values, int kv, int o, int ta, int visible) {
    MemorySegment seg = values.data();
    int tb = Math.min(ta + 1, visible - 1);
    float pa = p[o + ta];
    float pb = tb > ta ? p[o + tb] : 0f;
    long ca = values.codes() + ta * rowBytes;
    long cb = values.codes() + tb * rowBytes;
    long xra = values.scales() + ta * scaleBytes;
    long xrb = values.scales() + tb * scaleBytes;
    int a0 = row * s.headDim();
    boolean int4 = quantization == Quantization.INT4;
    boolean fp8 = quantization == Quantization.FP8;
    for (int g = 0; g < groups; g++) {
      int m = layout.groupLength(g);
      int half = (m + 1) / 2;
      long offset = kv * headBytes + g * groupBytes;
      int ag = a0 + g * layout.groupSize();
      int si = kv * groups + g;
      float wa = pa * SimdQuantLoads.scale(seg, xra, si);
      float wb = pb * SimdQuantLoads.scale(seg, xrb, si);
      FloatVector xa = FloatVector.broadcast(FLOATS, wa);
      FloatVector xb = FloatVector.broadcast(FLOATS, wb);
      long ga = ca + offset;
      long gb = cb + offset;
      int hb = int4 ? 0 : half;  // byte offset of the second half's codes
      int bound = FLOATS.loopBound(m / 2);
      for (int j = 0; j < bound; j += LANES) {
        FloatVector lo = FloatVector.fromArray(FLOATS, acc, ag + j);
        FloatVector hi = FloatVector.fromArray(FLOATS, acc, ag + half + j);
        lo = first(seg, ga + j, int4, fp8).fma(xa, lo);
        hi = second(seg, ga + hb + j, int4, fp8).fma(xa, hi);
        lo = first(seg, gb + j, int4, fp8).fma(xb, lo);
        hi = second(seg, gb + hb + j, int4, fp8).fma(xb, hi);
        lo.intoArray(acc, ag + j);
        hi.intoArray(acc, ag + half + j);
      }
      for (int j = bound; j < half; j++) {
        for (int e = j; e < m; e += half) {
          acc[ag + e] += wa * SimdQuantLoads.code(seg, ga, e, m, quantization)
              + wb * SimdQuantLoads.code(seg, gb, e, m, quantization);
        }
      }
    }
  }

  /**
   * {@link #scores} on the quad path: per chunk of 4·LANES codes one int load per token and four
   * query loads shared by both tokens.
   */
  private void quadScores(int row, QuantizedBlock keys, int kv, int o, int ta, int tb) {
    MemorySegment seg = keys.data();
    long ca = keys.codes() + ta * rowBytes + kv * headBytes;
    long cb = keys.codes() + tb * rowBytes + kv * headBytes;
    long xra = keys.scales() + ta * scaleBytes;
    long xrb = keys.scales() + tb * scaleBytes;
    int m = layout.groupSize();
    FloatVector sa = FloatVector.zero(FLOATS);
    FloatVector sb = sa;
    for (int g = 0; g < groups; g++) {
      FloatVector a0 = FloatVector.zero(FLOATS);
      FloatVector a1 = a0;
      int qg = row * s.headDim() + g * m;
      long ga = ca + g * groupBytes;
      long gb = cb + g * groupBytes;
      for (int c = 0; c < m; c += 4 * LANES) {
        IntVector xa = SimdQuantLoads.quad(seg, ga + c);
        IntVector xb = SimdQuantLoads.quad(seg, gb + c);
        FloatVector q0 = FloatVector.fromArray(FLOATS, quadQs, qg + c);
        FloatVector q1 = FloatVector.fromArray(FLOATS, quadQs, qg + c + LANES);
        FloatVector q2 = FloatVector.fromArray(FLOATS, quadQs, qg + c + 2 * LANES);
        FloatVector q3 = FloatVector.fromArray(FLOATS, quadQs, qg + c + 3 * LANES);
        a0 = SimdQuantLoads.byteLane(xa, 0).fma(q0, a0);
        a1 = SimdQuantLoads.byteLane(xb, 0).fma(q0, a1);
        a0 = SimdQuantLoads.byteLane(xa, 1).fma(q1, a0);
        a1 = SimdQuantLoads.byteLane(xb, 1).fma(q1, a1);
        a0 = SimdQuantLoads.byteLane(xa, 2).fma(q2, a0);
        a1 = SimdQuantLoads.byteLane(xb, 2).fma(q2, a1);
        a0 = SimdQuantLoads.byteLane(xa, 3).fma(q3, a0);
        a1 = SimdQuantLoads.byteLane(xb, 3).fma(q3, a1);
      }
      int si = kv * groups + g;
      sa = a0.fma(FloatVector.broadcast(FLOATS, SimdQuantLoads.scale(seg, xra, si)), sa);
      sb = a1.fma(FloatVector.broadcast(FLOATS, SimdQuantLoads.scale(seg, xrb, si)), sb);
    }
    p[o + tb] = sb.reduceLanes(VectorOperators.ADD);
    p[o + ta] = sa.reduceLanes(VectorOperators.ADD);
  }

  /**
   * {@link #addValues} on the quad path, into {@link #acc}: per chunk one int load per token
   * and four accumulator vectors loaded and stored once for both tokens.
   */
  private void quadValues(int row, QuantizedBlock values, int kv, int o, int ta, int visible) {
    MemorySegment seg = values.data();
    int tb = Math.min(ta + 1, visible - 1);
    float pa = p[o + ta];
    float pb = tb > ta ? p[o + tb] : 0f;
    long ca = values.codes() + ta * rowBytes + kv * headBytes;
    long cb = values.codes() + tb * rowBytes + kv * headBytes;
    long xra = values.scales() + ta * scaleBytes;
    long xrb = values.scales() + tb * scaleBytes;
    int m = layout.groupSize();
    for (int g = 0; g < groups; g++) {
      int si = kv * groups + g;
      FloatVector wa = FloatVector.broadcast(FLOATS, pa * SimdQuantLoads.scale(seg, xra, si));
      FloatVector wb = FloatVector.broadcast(FLOATS, pb * SimdQuantLoads.scale(seg, xrb, si));
      int ag = row * s.headDim() + g * m;
      long ga = ca + g * groupBytes;
      long gb = cb + g * groupBytes;
      for (int c = 0; c < m; c += 4 * LANES) {
        IntVector xa = SimdQuantLoads.quad(seg, ga + c);
        IntVector xb = SimdQuantLoads.quad(seg, gb + c);
        for (int k = 0; k < 4; k++) {
          int at = ag + c + k * LANES;
          FloatVector x = FloatVector.fromArray(FLOATS, acc, at);
          x = SimdQuantLoads.byteLane(xa, k).fma(wa, x);
          x = SimdQuantLoads.byteLane(xb, k).fma(wb, x);
          x.intoArray(acc, at);
        }
      }
    }
  }
}
