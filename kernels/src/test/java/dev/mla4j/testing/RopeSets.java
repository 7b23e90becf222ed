package dev.mla4j.testing;

/** Random kept-pair sets for partial RoPE (spec 2.2: any r of the F pairs, per layer and kv head). */
public final class RopeSets {
  private RopeSets() {}

  /** {@code [layers][kvHeads][r]}, each an ascending random r-subset of [0, F). */
  public static int[][][] random(Seeds.Case c, int layers, int kvHeads, int r, int pairs) {
    int[][][] kept = new int[layers][kvHeads][];
    for (int l = 0; l < layers; l++) {
      for (int j = 0; j < kvHeads; j++) {
        kept[l][j] = subset(c, r, pairs);
      }
    }
    return kept;
  }

  /** An ascending random r-subset of [0, n) (selection sampling). */
  public static int[] subset(Seeds.Case c, int r, int n) {
    int[] out = new int[r];
    int k = 0;
    for (int i = 0; i < n && k < r; i++) {
      if (c.random().nextInt(n - i) < r - k) {
        out[k++] = i;
      }
    }
    return out;
  }
}
