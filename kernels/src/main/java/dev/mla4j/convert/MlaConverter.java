package dev.mla4j.convert;

import dev.mla4j.api.Backend;
import dev.mla4j.model.AttentionWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.model.ModelConfig;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;

/**
 * Converts one original MHA/GQA attention layer into an MHA2MLA layer (spec 3.1-3.7, 9.2): the
 * kept pairs' rows of W_q and W_k become the rope projections, the rest of W_k (NoPE) and all of
 * W_v are factorized into a shared down projection to the latent and per-kv-head up projections.
 * W_o is passed through unchanged.
 */
public final class MlaConverter {

  /** How {@code [W_k,nope ; W_v]} is compressed. */
  public enum SvdMethod {
    /** Not compressed: the latent is {@code [k_nope ; v]} itself, L = n_kv·(d_nope + d_h). */
    NONE,
    /** SVD of the stacked matrix to L = n_kv·d_kv (spec 3.2). */
    JOINT,
    /** Separate SVDs of W_k,nope and W_v, latent {@code [c_k ; c_v]} (spec 3.3). */
    SPLIT;

    public String configName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Latent width per side of SVD_split (spec 10 item 4). */
  public enum SplitWidth {
    /** The paper: n_kv·d_kv/2 per side, so the cache equals SVD_joint's at the same d_kv. */
    PAPER,
    /** The reference code: n_kv·d_kv per side, so L = 2·n_kv·d_kv. */
    CODE
  }

  /**
   * @param dKv latent width per kv head (ignored for {@link SvdMethod#NONE})
   * @param aware activation-aware settings, or null for the weight-only SVD of the paper
   * @param weights storage type of the converted weights (F32 or BF16)
   */
  public record Options(int dKv, SvdMethod svd, SplitWidth splitWidth, SigmaPlacement sigma,
      ActivationAwareOptions aware, DType weights, SvdSolver solver) {

    /** SVD_joint with the reference code's Σ placement, weight-only, F32 weights. */
    public static Options joint(int dKv) {
      return new Options(dKv, SvdMethod.JOINT, SplitWidth.PAPER, SigmaPlacement.UP, null,
          DType.F32, SvdSolver.AUTO);
    }

    public boolean activationAware() {
      return aware != null;
    }

    public Options withSvd(SvdMethod m) {
      return new Options(dKv, m, splitWidth, sigma, aware, weights, solver);
    }

    public Options withSplitWidth(SplitWidth w) {
      return new Options(dKv, svd, w, sigma, aware, weights, solver);
    }

    public Options withSigma(SigmaPlacement p) {
      return new Options(dKv, svd, splitWidth, p, aware, weights, solver);
    }

    /** Activation-aware with {@link ActivationAwareOptions#DEFAULT} settings, or weight-only. */
    public Options withActivationAware(boolean on) {
      return withAware(on ? ActivationAwareOptions.DEFAULT : null);
    }

    public Options withAware(ActivationAwareOptions a) {
      return new Options(dKv, svd, splitWidth, sigma, a, weights, solver);
    }

    public Options withWeights(DType t) {
      return new Options(dKv, svd, splitWidth, sigma, aware, t, solver);
    }

    public Options withSolver(SvdSolver s) {
      return new Options(dKv, svd, splitWidth, sigma, aware, weights, s);
    }

    /** L of the converted layer for {@code kvHeads} kv heads of dim {@code headDim}, r pairs. */
    public int latentDim(int kvHeads, int headDim, int r) {
      return switch (svd) {
        case NONE -> kvHeads * (2 * headDim - 2 * r);
        case JOINT -> kvHeads * dKv;
        case SPLIT -> splitSide(kvHeads, kvHeads * (headDim - 2 * r)) + splitSide(kvHeads, kvHeads * headDim);
      };
    }

    /**
     * Latent width of one SVD_split side with {@code rows} output rows: n_kv·d_kv/2 (paper) or
     * n_kv·d_kv (code), but never more than the side's rows, its full rank (the key side has
     * only n_kv·d_nope rows, so a full-rank split has a narrower key half).
     */
    int splitSide(int kvHeads, int rows) {
      int width = splitWidth == SplitWidth.CODE ? kvHeads * dKv : kvHeads * dKv / 2;
      return Math.min(width, rows);
    }
  }

  private MlaConverter() {}

  /**
   * Converts every layer of a model.
   *
   * @param layers layer index → original attention weights
   * @param kept {@code [layers][n_kv][r]} from {@link PairSelection}
   * @param moments calibration statistics (required iff activation-aware), else null
   * @param progress called with each finished layer index (SVDs of large layers take seconds)
   */
  public static MlaAttentionWeights[] convertModel(Backend b, ModelConfig c,
      IntFunction<AttentionWeights> layers, int[][][] kept, Options o, InputMoments moments,
      IntConsumer progress, Arena arena) {
    if (kept.length != c.layers()) {
      throw new IllegalArgumentException("kept pairs for " + kept.length + " layers, the model has " + c.layers());
    }
    MlaAttentionWeights[] out = new MlaAttentionWeights[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      InputMoments.Layer s = o.activationAware() ? moments.layer(l) : null;
      out[l] = convertLayer(b, c, layers.apply(l), kept[l], o, s, arena);
      progress.accept(l);
    }
    return out;
  }

  /** {@link #convertLayer(Backend, int, int, int, AttentionWeights, int[][], Options, InputMoments.Layer, Arena)} with the model's shape. */
  public static MlaAttentionWeights convertLayer(Backend b, ModelConfig c, AttentionWeights w,
      int[][] kept, Options o, InputMoments.Layer moments, Arena arena) {
    return convertLayer(b, c.heads(), c.kvHeads(), c.headDim(), w, kept, o, moments, arena);
  }

  /**
   * @param kept {@code [n_kv][r]} ascending kept pairs per kv head
   * @param moments the layer's input statistics (required iff activation-aware)
   * @param arena where the converted weights live
   */
  public static MlaAttentionWeights convertLayer(Backend b, int heads, int kvHeads, int headDim,
      AttentionWeights w, int[][] kept, Options o, InputMoments.Layer moments, Arena arena) {
    if (kept.length != kvHeads) {
      throw new IllegalArgumentException("kept pairs for " + kept.length + " kv heads, the layer has " + kvHeads);
    }
    int r = kept[0].length;
    int dr = 2 * r;
    int nope = headDim - dr;
    int group = heads / kvHeads;
    int d = w.wk().cols();
    w.wq().require("W_q", heads * headDim, d);
    w.wk().require("W_k", kvHeads * headDim, d);
    w.wv().require("W_v", kvHeads * headDim, d);
    if (o.activationAware() && moments == null) {
      throw new IllegalArgumentException("activation-aware SVD needs the input moments (InputMoments) of the layer");
    }
    if (o.activationAware() && o.svd() == SvdMethod.NONE) {
      throw new IllegalArgumentException("activation-aware applies to SVD_joint or SVD_split, not to svd=none");
    }
    int[][] orders = new int[kvHeads][];
    for (int j = 0; j < kvHeads; j++) {
      if (kept[j].length != r) {
        throw new IllegalArgumentException("kv head " + j + " keeps " + kept[j].length + " pairs, head 0 keeps " + r);
      }
      orders[j] = HeadRows.ropeFirst(kept[j], headDim);
    }
    DType t = o.weights();
    Tensor wqRope = HeadRows.gather(arena, w.wq(), orders, group, headDim, 0, dr, false, t);
    Tensor wqNope = HeadRows.gather(arena, w.wq(), orders, group, headDim, dr, nope, false, t);
    Tensor bqRope = HeadRows.gather(arena, w.bq(), orders, group, headDim, 0, dr, true, t);
    Tensor bqNope = HeadRows.gather(arena, w.bq(), orders, group, headDim, dr, nope, true, t);
    Tensor wKr = HeadRows.gather(arena, w.wk(), orders, 1, headDim, 0, dr, false, t);
    Tensor bKr = HeadRows.gather(arena, w.bk(), orders, 1, headDim, 0, dr, true, t);
    Tensor bUk = HeadRows.gather(arena, w.bk(), orders, 1, headDim, dr, nope, true, t);
    Tensor bUv = w.bv() == null ? null : Dense.copy(arena, w.bv(), t);
    int kRows = kvHeads * nope;
    int vRows = kvHeads * headDim;
    Tensor down;
    Tensor uk;
    Tensor uv;
    try (Arena tmp = Arena.ofShared()) {
      // M = [W_k,nope ; W_v] in F32
      Tensor m = Tensor.allocate(tmp, DType.F32, kRows + vRows, d);
      Dense.copyInto(HeadRows.gather(tmp, w.wk(), orders, 1, headDim, dr, nope, false, DType.F32), m.rows(0, kRows));
      Dense.copyInto(w.wv(), m.rows(kRows, vRows));
      int latent = o.latentDim(kvHeads, headDim, r);
      double[][][] rowRoots = o.activationAware() && o.aware().objective() == AwareObjective.ATTENTION
          ? AttentionErrorWeights.roots(b, wqNope, bqNope, w.wv(), w.wo(), moments.second(),
              moments.mean(), heads, kvHeads, headDim, o.aware().keyWeight())
          : null;
      switch (o.svd()) {
        case NONE -> {
          down = Dense.copy(arena, m, t);
          uk = Tensor.allocate(arena, t, kRows, latent);
          uv = Tensor.allocate(arena, t, vRows, latent);
          for (int i = 0; i < kRows; i++) {
            uk.set(i, i, 1);
          }
          for (int i = 0; i < vRows; i++) {
            uv.set(i, kRows + i, 1);
          }
        }
        case JOINT -> {
          requireRank("SVD_joint", latent, m);
          SigmaPlacement.Factors f = o.sigma().split(factor(b, m, rowRoots, latent, o, moments, tmp), t, arena);
          down = f.down();
          uk = f.up().rows(0, kRows);
          uv = f.up().rows(kRows, vRows);
        }
        case SPLIT -> {
          if (o.splitWidth() == SplitWidth.PAPER && (kvHeads * o.dKv()) % 2 != 0) {
            throw new IllegalArgumentException("SVD_split with the paper's width needs an even n_kv·d_kv, got " + kvHeads * o.dKv());
          }
          int sideK = o.splitSide(kvHeads, kRows);
          int sideV = o.splitSide(kvHeads, vRows);
          requireRank("SVD_split (keys)", sideK, m.rows(0, kRows));
          requireRank("SVD_split (values)", sideV, m.rows(kRows, vRows));
          double[][][] kRoots = rowRoots == null ? null : Arrays.copyOfRange(rowRoots, 0, kvHeads);
          double[][][] vRoots = rowRoots == null ? null : Arrays.copyOfRange(rowRoots, kvHeads, 2 * kvHeads);
          SigmaPlacement.Factors fk = o.sigma().split(factor(b, m.rows(0, kRows), kRoots, sideK, o, moments, tmp), t, arena);
          SigmaPlacement.Factors fv = o.sigma().split(factor(b, m.rows(kRows, vRows), vRoots, sideV, o, moments, tmp), t, arena);
          down = Tensor.allocate(arena, t, latent, d);
          Dense.copyInto(fk.down(), down.rows(0, sideK));
          Dense.copyInto(fv.down(), down.rows(sideK, sideV));
          uk = Tensor.allocate(arena, t, kRows, latent);
          uv = Tensor.allocate(arena, t, vRows, latent);
          Dense.copyInto(fk.up(), uk.cols(0, sideK));
          Dense.copyInto(fv.up(), uv.cols(sideK, sideV));
        }
        default -> throw new AssertionError(o.svd());
      }
      if (rowRoots != null) {
        bUv = meanValueBias(w.wv(), w.bv(), uv, down, moments.mean(), t, arena);
      }
    }
    int[][] keptCopy = new int[kvHeads][];
    for (int j = 0; j < kvHeads; j++) {
      keptCopy[j] = kept[j].clone();
    }
    return new MlaAttentionWeights(keptCopy, wqRope, bqRope, wqNope, bqNope, wKr, bKr, down, uk,
        bUk, uv, bUv, w.wo());
  }

  /**
   * {@code b_v + (W_v − W_uv W_dkv) μ} {@code [1][n_kv·d_h]}: the value error at the mean input. Its
   * attention-weighted sum over tokens is itself (the weights sum to 1), so as a bias it removes the
   * mean's share of the value error exactly, whatever the attention pattern.
   */
  private static Tensor meanValueBias(Tensor wv, Tensor bv, Tensor uv, Tensor down, double[] mean,
      DType t, Arena arena) {
    double[] latentMean = new double[down.rows()];
    for (int c = 0; c < down.rows(); c++) {
      for (int i = 0; i < mean.length; i++) {
        latentMean[c] += down.get(c, i) * mean[i];
      }
    }
    Tensor out = Tensor.allocate(arena, t, 1, wv.rows());
    for (int o = 0; o < wv.rows(); o++) {
      double acc = bv == null ? 0 : bv.get(0, o);
      for (int i = 0; i < mean.length; i++) {
        acc += wv.get(o, i) * mean[i];
      }
      for (int c = 0; c < latentMean.length; c++) {
        acc -= uv.get(o, c) * latentMean[c];
      }
      out.set(0, o, (float) acc);
    }
    return out;
  }

  /** Rank-k factors of m: weight-only, or activation-aware with optional row weights. */
  private static Svd factor(Backend b, Tensor m, double[][][] rowRoots, int k, Options o,
      InputMoments.Layer moments, Arena tmp) {
    if (!o.activationAware()) {
      return o.solver().truncated(b, m, k, tmp);
    }
    Tensor weighted = rowRoots == null ? null : AttentionErrorWeights.apply(b, rowRoots, m, tmp);
    // attention objective: the mean input is carried by a value bias (centeredBias), so only the
    // spread around it needs the latent
    ActivationAwareOptions a = o.aware();
    double[][] s = a.objective() == AwareObjective.ATTENTION ? moments.covariance() : moments.second();
    return ActivationAwareSvd.compute(b, m, weighted, s, k, a.eigenFloor(), a.damping(), o.solver(), tmp);
  }

  private static void requireRank(String what, int k, Tensor m) {
    if (k < 1 || k > Math.min(m.rows(), m.cols())) {
      throw new IllegalArgumentException(what + ": latent width " + k + " outside [1, "
          + Math.min(m.rows(), m.cols()) + "] for a " + m.shape() + " matrix (lower d_kv)");
    }
  }
}
