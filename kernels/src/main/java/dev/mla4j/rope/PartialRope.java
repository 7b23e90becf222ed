package dev.mla4j.rope;

import java.util.Arrays;

/**
 * Which RoPE pairs are kept for every (layer, kv head), spec section 2.4. A rope vector is the
 * compact {@code [2r]} gather of a head's kept pairs in {@link #layout()}; pair {@code m} of kv
 * head {@code j} in layer {@code l} rotates with the original frequency
 * {@code θ[kept(l, j)[m]]}. Query heads of a GQA group use their kv head's set. Full RoPE is the
 * case where every pair is kept in ascending order.
 */
public final class PartialRope {
  private final RopeFrequencies frequencies;
  private final PairLayout layout;
  private final int[][][] kept; // [layer][kvHead][r], ascending pair indices
  private final float[][][] keptInvFreq; // [layer][kvHead][r]
  private final int r;

  public PartialRope(RopeFrequencies frequencies, PairLayout layout, int[][][] kept) {
    this.frequencies = frequencies;
    this.layout = layout;
    if (kept.length == 0 || kept[0].length == 0) {
      throw new IllegalArgumentException("kept pairs need at least one layer and one kv head");
    }
    this.r = kept[0][0].length;
    this.kept = new int[kept.length][][];
    this.keptInvFreq = new float[kept.length][][];
    for (int l = 0; l < kept.length; l++) {
      if (kept[l].length != kept[0].length) {
        throw new IllegalArgumentException("layer " + l + " has " + kept[l].length
            + " kv heads of kept pairs, layer 0 has " + kept[0].length);
      }
      this.kept[l] = new int[kept[l].length][];
      this.keptInvFreq[l] = new float[kept[l].length][r];
      for (int j = 0; j < kept[l].length; j++) {
        int[] s = kept[l][j].clone();
        validate(l, j, s);
        this.kept[l][j] = s;
        for (int m = 0; m < r; m++) {
          keptInvFreq[l][j][m] = frequencies.invFreq()[s[m]];
        }
      }
    }
  }

  private void validate(int l, int j, int[] s) {
    if (s.length != r) {
      throw new IllegalArgumentException("layer " + l + " kv head " + j + " keeps " + s.length
          + " pairs, expected r=" + r + " like every other head");
    }
    for (int m = 0; m < s.length; m++) {
      if (s[m] < 0 || s[m] >= frequencies.pairs()) {
        throw new IllegalArgumentException("layer " + l + " kv head " + j + ": pair index " + s[m]
            + " outside [0, " + frequencies.pairs() + ")");
      }
      if (m > 0 && s[m] <= s[m - 1]) {
        throw new IllegalArgumentException("layer " + l + " kv head " + j
            + ": kept pairs must be strictly ascending, got " + Arrays.toString(s));
      }
    }
  }

  /** Every pair kept, for {@code layers} layers of {@code kvHeads} kv heads. */
  public static PartialRope full(RopeFrequencies f, PairLayout layout, int layers, int kvHeads) {
    int[] all = new int[f.pairs()];
    Arrays.setAll(all, i -> i);
    int[][][] kept = new int[layers][kvHeads][];
    for (int[][] layer : kept) {
      Arrays.fill(layer, all);
    }
    return new PartialRope(f, layout, kept);
  }

  public PairLayout layout() {
    return layout;
  }

  public RopeFrequencies frequencies() {
    return frequencies;
  }

  /** Kept pairs per head, r. */
  public int pairs() {
    return r;
  }

  /** d_r = 2r: width of one head's rope vector. */
  public int ropeDim() {
    return 2 * r;
  }

  public int layers() {
    return kept.length;
  }

  public int kvHeads() {
    return kept[0].length;
  }

  /** Ascending kept pair indices of (layer, kvHead); a copy. */
  public int[] kept(int layer, int kvHead) {
    return kept[layer][kvHead].clone();
  }

  /** θ of each kept pair of (layer, kvHead), {@code [r]}; shared, do not modify. */
  public float[] keptInvFreq(int layer, int kvHead) {
    return keptInvFreq[layer][kvHead];
  }

  public float attentionFactor() {
    return frequencies.attentionFactor();
  }
}
