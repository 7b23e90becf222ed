package dev.mla4j.projection;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.tensor.Tensor;

/**
 * The projections of one MHA2MLA layer around the latent (spec 3.2, 4.1 and 4.3), on a backend:
 * down to the latent and rope keys, up to NoPE keys and values, and the absorbed query and
 * output paths used by decode. Every method works for one token (GEMV) or many (GEMM).
 *
 * <p>The absorbed products are applied at run time per kv head ({@code W_ukᵀ} on the query,
 * {@code W_uv} on the latent output) rather than pre-merged into W_q and W_o: pre-merged
 * matrices hold n_h·L·d weights, 268M per Llama-2-7B layer at d_kv 64 (spec 4.3).
 */
public final class LatentProjection {
  private final MlaShape shape;
  private final int headDim;
  private final int nopeDim;
  private final Tensor wDkv;
  private final Tensor wKr;
  private final Tensor wUk;
  private final Tensor wUv;

  /**
   * @param shape the layer's MLA shape (per-kv-head rope keys)
   * @param headDim d_h of the original heads; d_nope = d_h - d_r
   * @param wDkv {@code [L][d]} down projection to the latent
   * @param wKr {@code [n_kv·d_r][d]} rope-key rows of the original W_k, compact per kv head
   * @param wUk {@code [n_kv·d_nope][L]} up projection to NoPE keys
   * @param wUv {@code [n_kv·d_h][L]} up projection to values
   */
  public LatentProjection(MlaShape shape, int headDim, Tensor wDkv, Tensor wKr, Tensor wUk,
      Tensor wUv) {
    if (shape.ropeKeys() != RopeKeyLayout.PER_KV_HEAD) {
      throw new IllegalArgumentException("LatentProjection is the MHA2MLA layout (per-kv-head rope"
          + " keys); got " + shape.ropeKeys());
    }
    if (headDim < shape.ropeDim()) {
      throw new IllegalArgumentException("d_h=" + headDim + " is smaller than d_r=" + shape.ropeDim());
    }
    this.shape = shape;
    this.headDim = headDim;
    this.nopeDim = headDim - shape.ropeDim();
    int d = wDkv.cols();
    int kv = shape.kvHeads();
    this.wDkv = wDkv.require("W_dkv", shape.latentDim(), d);
    this.wKr = wKr.require("W_kr", kv * shape.ropeDim(), d);
    this.wUk = wUk.require("W_uk", kv * nopeDim, shape.latentDim());
    this.wUv = wUv.require("W_uv", kv * headDim, shape.latentDim());
  }

  public MlaShape shape() {
    return shape;
  }

  /** Hidden size d. */
  public int hiddenDim() {
    return wDkv.cols();
  }

  /** d_nope = d_h - d_r. */
  public int nopeDim() {
    return nopeDim;
  }

  /**
   * What the cache stores for new tokens: {@code latent = x W_dkvᵀ} and the (not yet rotated)
   * rope keys {@code x W_krᵀ}.
   *
   * @param x {@code [T][d]}
   * @param latent {@code [T][L]}
   * @param ropeKeys {@code [T][n_kv·d_r]}
   */
  public void down(Backend b, Tensor x, Tensor latent, Tensor ropeKeys) {
    b.linear(x, wDkv, latent);
    if (shape.ropeDim() > 0) {
      b.linear(x, wKr, ropeKeys);
    }
  }

  /** NoPE keys {@code [T][n_kv·d_nope]} from latents {@code [T][L]} (naive path, spec 4.1). */
  public void upKeys(Backend b, Tensor latent, Tensor keysNope) {
    b.linear(latent, wUk, keysNope);
  }

  /** Values {@code [T][n_kv·d_h]} from latents {@code [T][L]} (naive path, spec 4.1). */
  public void upValues(Backend b, Tensor latent, Tensor values) {
    b.linear(latent, wUv, values);
  }

  /**
   * Absorbed queries {@code q~_h = W_uk^{(j)ᵀ} q_h^N} for every head h of group j.
   *
   * @param queryNope {@code [T·n_h][d_nope]}
   * @param queryLatent {@code [T·n_h][L]}
   */
  public void absorbQuery(Backend b, Tensor queryNope, Tensor queryLatent) {
    int heads = shape.heads();
    queryNope.requireF32("query NoPE", queryNope.rows(), nopeDim);
    queryLatent.requireF32("absorbed query", queryNope.rows(), shape.latentDim());
    requireWholeTokens(queryNope.rows());
    if (nopeDim == 0) {
      zero(queryLatent);
      return;
    }
    for (int h = 0; h < heads; h++) {
      Tensor block = wUk.rows(kvHead(h) * nopeDim, nopeDim);
      b.linearTransposed(queryNope.strided(h, heads), block, queryLatent.strided(h, heads));
    }
  }

  /**
   * Per-head outputs {@code o_h = W_uv^{(j)} u_h} from the latent-space attention outputs, ready
   * for the original W_o.
   *
   * @param latentOut {@code [T·n_h][L]} from {@link Backend#mlaAttention}
   * @param headOut {@code [T·n_h][d_h]}
   */
  public void absorbOutput(Backend b, Tensor latentOut, Tensor headOut) {
    int heads = shape.heads();
    latentOut.requireF32("latent attention output", latentOut.rows(), shape.latentDim());
    headOut.requireF32("head output", latentOut.rows(), headDim);
    requireWholeTokens(latentOut.rows());
    for (int h = 0; h < heads; h++) {
      Tensor block = wUv.rows(kvHead(h) * headDim, headDim);
      b.linear(latentOut.strided(h, heads), block, headOut.strided(h, heads));
    }
  }

  private int kvHead(int h) {
    return h / (shape.heads() / shape.kvHeads());
  }

  private void requireWholeTokens(int rows) {
    if (rows % shape.heads() != 0) {
      throw new IllegalArgumentException(
          rows + " query rows is not a whole number of tokens of n_h=" + shape.heads() + " heads");
    }
  }

  private static void zero(Tensor t) {
    for (int i = 0; i < t.rows(); i++) {
      for (int j = 0; j < t.cols(); j++) {
        t.set(i, j, 0f);
      }
    }
  }
}
