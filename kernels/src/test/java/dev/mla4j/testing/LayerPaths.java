package dev.mla4j.testing;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Steps of an attention layer composed from backend operations, as the conversion equivalence
 * tests run a layer: projections, RoPE, and the absorbed MLA path of a converted layer.
 */
public final class LayerPaths {
  private LayerPaths() {}

  /** {@code y = x Wᵀ} on the backend, into a fresh F32 tensor. */
  public static Tensor project(Backend b, Arena arena, Tensor x, Tensor w) {
    Tensor y = Tensor.allocate(arena, DType.F32, x.rows(), w.rows());
    b.linear(x, w, y);
    return y;
  }

  /** {@link #project}, then RoPE with layer 0's pairs of {@code rope} at {@code positions}. */
  public static Tensor projectRoped(Backend b, Arena arena, Tensor x, Tensor w, PartialRope rope,
      int[] positions) {
    Tensor y = project(b, arena, x, w);
    b.rope(y, positions, rope, 0);
    return y;
  }

  /**
   * Absorbed MLA (spec 4.3) of T query tokens over a one-layer F32 latent cache holding
   * {@code latents} and {@code ropeKeys}: per head, {@code q_nope} absorbed through its kv head's
   * rows of {@code wUk} into a latent query, {@code mlaAttention}, then the head's latent output
   * up-projected by its kv head's rows of {@code wUv} into its columns of {@code out}.
   *
   * @param qRope {@code [T][n_h·d_r]}, rotated
   * @param qNope {@code [T][n_h·d_nope]}
   * @param out {@code [T][n_h·d_h]}
   */
  public static void absorbedMla(Backend b, Arena arena, MlaShape shape, Tensor qRope,
      Tensor qNope, Tensor latents, Tensor ropeKeys, Tensor wUk, Tensor wUv, int firstQueryPos,
      Tensor out) {
    int tokens = qRope.rows();
    int heads = shape.heads();
    int group = heads / shape.kvHeads();
    int latent = shape.latentDim();
    int nope = qNope.cols() / heads;
    int headDim = out.cols() / heads;
    try (LatentCache cache = new LatentCache(shape, 1, DType.F32, latents.rows())) {
      cache.append(0, latents, ropeKeys);
      Tensor qLatent = Tensor.allocate(arena, DType.F32, tokens, heads * latent);
      for (int h = 0; h < heads; h++) {
        b.linearTransposed(qNope.cols(h * nope, nope), wUk.rows(h / group * nope, nope),
            qLatent.cols(h * latent, latent));
      }
      Tensor u = Tensor.allocate(arena, DType.F32, tokens * heads, latent);
      b.mlaAttention(shape, qRope.splitRows(shape.ropeDim()), qLatent.splitRows(latent), cache, 0,
          firstQueryPos, u);
      Tensor uByToken = Tensor.of(u.data(), DType.F32, tokens, heads * latent);
      for (int h = 0; h < heads; h++) {
        b.linear(uByToken.cols(h * latent, latent), wUv.rows(h / group * headDim, headDim),
            out.cols(h * headDim, headDim));
      }
    }
  }
}
