package dev.mla4j.simd;

import static dev.mla4j.simd.SimdConstants.FLOATS;
import static dev.mla4j.simd.SimdConstants.LANES;
import static dev.mla4j.simd.SimdConstants.ORDER;

import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;

/**
 * Partial RoPE on compact rope vectors (spec 2.4). cos/sin are computed once per (token, kv
 * head) and applied to every query head of the group. Each element is computed as
 * {@code x·cos ∓ partner·sin} with separate multiplies (no FMA), so results are bit-identical
 * to the scalar reference.
 */
final class SimdRope {
  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
  private static final int COS = 0;
  private static final int SIN = 1;
  /** Lane i takes lane i^1: the partner of each interleaved pair element. */
  private static final VectorShuffle<Float> SWAP_PAIRS =
      VectorShuffle.fromOp(FLOATS, i -> i ^ 1);

  private SimdRope() {}

  /** x {@code [T][heads·d_r]}; head h uses kv head h / groupSize's kept pairs. */
  static void apply(Tensor x, int[] positions, PartialRope rope, int layer, int groupSize) {
    int r = rope.pairs();
    int dr = 2 * r;
    int heads = x.cols() / dr;
    boolean interleaved = rope.layout() == PairLayout.INTERLEAVED;
    // interleaved: per element of [d_r] (cos, cos) and (-sin, +sin); half split: per pair
    float[] cos = SimdScratch.floats(COS, dr);
    float[] sin = SimdScratch.floats(SIN, dr);
    for (int t = 0; t < x.rows(); t++) {
      for (int kv = 0; kv < heads / groupSize; kv++) {
        angles(rope.keptInvFreq(layer, kv), positions[t], rope.attentionFactor(), interleaved,
            cos, sin);
        for (int h = kv * groupSize; h < (kv + 1) * groupSize; h++) {
          long base = x.index(t, h * dr);
          if (interleaved) {
            interleaved(x.data(), base, dr, cos, sin);
          } else {
            halfSplit(x.data(), base, r, cos, sin);
          }
        }
      }
    }
  }

  private static void angles(float[] invFreq, int position, float attention, boolean interleaved,
      float[] cos, float[] sin) {
    for (int m = 0; m < invFreq.length; m++) {
      // angle in float32 as Hugging Face computes it (inv_freq · position), cos/sin rounded
      float angle = position * invFreq[m];
      float c = (float) Math.cos(angle) * attention;
      float s = (float) Math.sin(angle) * attention;
      if (interleaved) {
        cos[2 * m] = c;
        cos[2 * m + 1] = c;
        sin[2 * m] = -s;
        sin[2 * m + 1] = s;
      } else {
        cos[m] = c;
        sin[m] = s;
      }
    }
  }

  /** Pairs (m, m + r): whole vectors of m, then the tail one pair at a time. */
  private static void halfSplit(MemorySegment seg, long base, int r, float[] cos, float[] sin) {
    int m = 0;
    for (int bound = FLOATS.loopBound(r); m < bound; m += LANES) {
      long a = (base + m) * 4;
      long b = (base + r + m) * 4;
      FloatVector x1 = FloatVector.fromMemorySegment(FLOATS, seg, a, ORDER);
      FloatVector x2 = FloatVector.fromMemorySegment(FLOATS, seg, b, ORDER);
      FloatVector c = FloatVector.fromArray(FLOATS, cos, m);
      FloatVector s = FloatVector.fromArray(FLOATS, sin, m);
      x1.mul(c).sub(x2.mul(s)).intoMemorySegment(seg, a, ORDER);
      x2.mul(c).add(x1.mul(s)).intoMemorySegment(seg, b, ORDER);
    }
    for (; m < r; m++) {
      float x1 = seg.getAtIndex(FLOAT, base + m);
      float x2 = seg.getAtIndex(FLOAT, base + r + m);
      seg.setAtIndex(FLOAT, base + m, x1 * cos[m] - x2 * sin[m]);
      seg.setAtIndex(FLOAT, base + r + m, x2 * cos[m] + x1 * sin[m]);
    }
  }

  /** Pairs (2m, 2m + 1): x·cos + swap(x)·(∓sin) over whole vectors (LANES is even), then the tail. */
  private static void interleaved(MemorySegment seg, long base, int dr, float[] cos, float[] sin) {
    int i = 0;
    for (int bound = FLOATS.loopBound(dr); i < bound; i += LANES) {
      long off = (base + i) * 4;
      FloatVector v = FloatVector.fromMemorySegment(FLOATS, seg, off, ORDER);
      FloatVector c = FloatVector.fromArray(FLOATS, cos, i);
      FloatVector s = FloatVector.fromArray(FLOATS, sin, i);
      v.mul(c).add(v.rearrange(SWAP_PAIRS).mul(s)).intoMemorySegment(seg, off, ORDER);
    }
    for (; i < dr; i += 2) {
      float x1 = seg.getAtIndex(FLOAT, base + i);
      float x2 = seg.getAtIndex(FLOAT, base + i + 1);
      seg.setAtIndex(FLOAT, base + i, x1 * cos[i] + x2 * sin[i]);
      seg.setAtIndex(FLOAT, base + i + 1, x2 * cos[i + 1] + x1 * sin[i + 1]);
    }
  }
}
