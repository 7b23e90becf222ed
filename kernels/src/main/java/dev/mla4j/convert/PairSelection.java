package dev.mla4j.convert;

import java.util.Arrays;

/**
 * Which RoPE frequency pairs each (layer, kv head) keeps (spec 2.2-2.3). Results are
 * {@code int[layers][n_kv][r]}, ascending per head, ready for
 * {@link dev.mla4j.rope.PartialRope}; query heads of a GQA group use their kv head's set.
 */
public final class PairSelection {

  /** Selection strategy. */
  public enum Strategy {
    /** {@code {0..r-1}}: the fastest-rotating pairs. */
    HIGH("high"),
    /** {@code {F-r..F-1}}: the slowest-rotating pairs. */
    LOW("low"),
    /** Every {@code d_h/(2r)}-th pair from a start offset (the reference code's formula). */
    UNIFORM("uniform"),
    /** Top r of the product score Σ_{h∈group} Q̄[h,i]·K̄[j,i] (paper; current code). */
    TWO_NORM("2-norm"),
    /** Top r of the sum score Σ_{h∈group} (Q̄[h,i] + K̄[j,i]) (score files of the released checkpoints). */
    TWO_NORM_SUM("2-norm-sum");

    private final String configName;

    Strategy(String configName) {
      this.configName = configName;
    }

    public String configName() {
      return configName;
    }

    public static Strategy parse(String name) {
      for (Strategy s : values()) {
        if (s.configName.equalsIgnoreCase(name) || s.name().equalsIgnoreCase(name)) {
          return s;
        }
      }
      throw new IllegalArgumentException("unknown pair selection strategy '" + name
          + "' (use high, low, uniform, 2-norm or 2-norm-sum)");
    }
  }

  private PairSelection() {}

  /** S_high: pairs {@code 0..r-1} for every layer and kv head. */
  public static int[][][] high(int layers, int kvHeads, int pairs, int r) {
    check(pairs, r);
    int[] s = new int[r];
    Arrays.setAll(s, i -> i);
    return same(layers, kvHeads, s);
  }

  /** S_low: pairs {@code F-r..F-1}. */
  public static int[][][] low(int layers, int kvHeads, int pairs, int r) {
    check(pairs, r);
    int[] s = new int[r];
    Arrays.setAll(s, i -> pairs - r + i);
    return same(layers, kvHeads, s);
  }

  /**
   * S_uniform as the reference code builds it (spec 2.2, 10 item 16): head dims
   * {@code start, start+s, .., start+(2r-1)s} with step {@code s = d_h/(2r)}, which are pairs
   * {@code start + m·s} (m < r) when {@code s·r = F}; with start 0 this is the paper's
   * {@code ⌊m·d_h/(2r)⌋}. Other r would give unpaired dims and are refused.
   */
  public static int[][][] uniform(int layers, int kvHeads, int pairs, int r, int start) {
    check(pairs, r);
    if (r == 0) {
      return same(layers, kvHeads, new int[0]);
    }
    if (pairs % r != 0) {
      throw new IllegalArgumentException("S_uniform needs r to divide the F=" + pairs
          + " pairs per head (step d_h/(2r) must be whole), got r=" + r);
    }
    int step = pairs / r;
    if (start < 0 || start >= step) {
      throw new IllegalArgumentException("S_uniform start " + start + " outside [0, " + step + ")");
    }
    int[] s = new int[r];
    Arrays.setAll(s, m -> start + m * step);
    return same(layers, kvHeads, s);
  }

  /**
   * S_2-norm from calibration means (spec 2.3): per layer l and kv head j the r pairs with the
   * largest score, summed over the g query heads h of the group; ties go to the lower index.
   *
   * @param q {@code Q̄[layers][n_h][F]}
   * @param k {@code K̄[layers][n_kv][F]}
   * @param sum false: score Q̄·K̄ (product); true: Q̄ + K̄ (sum, older score files)
   */
  public static int[][][] twoNorm(double[][][] q, double[][][] k, int r, boolean sum) {
    int layers = q.length;
    int heads = q[0].length;
    int kvHeads = k[0].length;
    int pairs = q[0][0].length;
    check(pairs, r);
    if (k.length != layers || heads % kvHeads != 0 || k[0][0].length != pairs) {
      throw new IllegalArgumentException("pair norms disagree: Q̄ [" + layers + "][" + heads
          + "][" + pairs + "], K̄ [" + k.length + "][" + kvHeads + "][" + k[0][0].length + "]");
    }
    int group = heads / kvHeads;
    int[][][] out = new int[layers][kvHeads][];
    for (int l = 0; l < layers; l++) {
      for (int j = 0; j < kvHeads; j++) {
        double[] score = new double[pairs];
        for (int h = j * group; h < (j + 1) * group; h++) {
          for (int i = 0; i < pairs; i++) {
            score[i] += sum ? q[l][h][i] + k[l][j][i] : q[l][h][i] * k[l][j][i];
          }
        }
        out[l][j] = topR(score, r);
      }
    }
    return out;
  }

  /** Indices of the r largest scores (ties: lower index first), ascending. */
  static int[] topR(double[] score, int r) {
    Integer[] order = new Integer[score.length];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a])
        : Integer.compare(a, b));
    int[] s = new int[r];
    for (int m = 0; m < r; m++) {
      s[m] = order[m];
    }
    Arrays.sort(s);
    return s;
  }

  /**
   * Dispatches on {@code strategy}; {@code stats} is needed for the 2-norm strategies only.
   */
  public static int[][][] select(Strategy strategy, int layers, int heads, int kvHeads,
      int headDim, int r, PairNormStats stats) {
    int pairs = headDim / 2;
    return switch (strategy) {
      case HIGH -> high(layers, kvHeads, pairs, r);
      case LOW -> low(layers, kvHeads, pairs, r);
      case UNIFORM -> uniform(layers, kvHeads, pairs, r, 0);
      case TWO_NORM, TWO_NORM_SUM -> {
        if (stats == null) {
          throw new IllegalArgumentException(strategy.configName()
              + " selection needs calibration statistics (PairNormStats)");
        }
        yield twoNorm(stats.queryNorms(), stats.keyNorms(), r, strategy == Strategy.TWO_NORM_SUM);
      }
    };
  }

  private static void check(int pairs, int r) {
    if (r < 0 || r > pairs) {
      throw new IllegalArgumentException("r=" + r + " kept pairs outside [0, F=" + pairs + "]");
    }
  }

  private static int[][][] same(int layers, int kvHeads, int[] s) {
    int[][][] out = new int[layers][kvHeads][];
    for (int[][] layer : out) {
      for (int j = 0; j < kvHeads; j++) {
        layer[j] = s.clone();
      }
    }
    return out;
  }
}
