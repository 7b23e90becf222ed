package dev.mla4j.model;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.projection.LatentProjection;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/**
 * The MHA2MLA-converted forward pass (spec 4.3): the original model's embedding, norms, MLP and
 * LM head with each layer's attention replaced by absorbed MLA over a {@link LatentCache}.
 * Per layer: {@code q_R = rope(x W_qRᵀ + b)}, {@code q_N = x W_qNᵀ + b}, {@code k_R = rope(x
 * W_krᵀ + b)}, {@code c = x W_dkvᵀ} (c and k_R cached), {@code q~ = W_ukᵀ q_N} per head, latent
 * attention, {@code o_h = W_uv u_h + b_uv}, then the unchanged W_o. b_uk adds the same amount
 * to every score of a query and cancels in the softmax; b_uv passes through it because the
 * attention weights sum to 1. The softmax scale stays 1/sqrt(d_h).
 */
public final class MlaModel extends DecoderModel {
  private final MlaAttentionWeights[] mla;
  private final LatentProjection[] projections;
  private final MlaShape shape;
  private final PartialRope rope;
  private final LatentCache cache;
  private final int nope;
  private final Tensor qRope;
  private final Tensor qNope;
  private final Tensor kRope;
  private final Tensor latent;
  private final Tensor qLatent;
  private final Tensor uLatent;
  private final Tensor heads;

  /**
   * @param layers one converted attention per layer, all with the same r and L
   * @param cacheType F32 or BF16
   */
  public MlaModel(LlamaWeights weights, MlaAttentionWeights[] layers, Backend backend,
      int maxTokens, DType cacheType) {
    this(weights, layers, backend, maxTokens, CacheFormat.plain(cacheType));
  }

  /**
   * @param layers one converted attention per layer, all with the same r and L
   * @param cacheFormat plain F32/BF16, or int8/int4/fp8 latents (quantized on append)
   */
  public MlaModel(LlamaWeights weights, MlaAttentionWeights[] layers, Backend backend,
      int maxTokens, CacheFormat cacheFormat) {
    super(weights, backend, maxTokens);
    ModelConfig c = config;
    if (layers.length != c.layers()) {
      throw new IllegalArgumentException(layers.length + " converted layers for a model of "
          + c.layers());
    }
    this.mla = layers.clone();
    int[][][] kept = new int[c.layers()][][];
    for (int l = 0; l < kept.length; l++) {
      kept[l] = layers[l].keptPairs();
      if (layers[l].wDkv().rows() != layers[0].wDkv().rows()) {
        throw new IllegalArgumentException("layer " + l + " has L=" + layers[l].wDkv().rows()
            + ", layer 0 has L=" + layers[0].wDkv().rows() + "; the latent cache needs one L");
      }
    }
    this.rope = new PartialRope(c.ropeFrequencies(), PairLayout.HALF_SPLIT, kept);
    int dr = rope.ropeDim();
    int dh = c.headDim();
    this.nope = dh - dr;
    int latentDim = layers[0].wDkv().rows();
    this.shape = new MlaShape(c.heads(), c.kvHeads(), dr, latentDim, RopeKeyLayout.PER_KV_HEAD,
        (float) (1 / Math.sqrt(dh)));
    this.cache = new LatentCache(shape, c.layers(), cacheFormat, maxTokens);
    this.projections = new LatentProjection[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      MlaAttentionWeights w = layers[l];
      w.wqRope().require("layer " + l + " W_qR", c.heads() * dr, c.hiddenSize());
      w.wqNope().require("layer " + l + " W_qN", c.heads() * nope, c.hiddenSize());
      w.wo().require("layer " + l + " W_o", c.hiddenSize(), c.heads() * dh);
      projections[l] = new LatentProjection(shape, dh, w.wDkv(), w.wKr(), w.wUk(), w.wUv());
    }
    int h = c.heads();
    this.qRope = Ops.f32(arena, maxTokens * h, dr);
    this.qNope = Ops.f32(arena, maxTokens * h, nope);
    this.kRope = Ops.f32(arena, maxTokens, c.kvHeads() * dr);
    this.latent = Ops.f32(arena, maxTokens, latentDim);
    this.qLatent = Ops.f32(arena, maxTokens * h, latentDim);
    this.uLatent = Ops.f32(arena, maxTokens * h, latentDim);
    this.heads = Ops.f32(arena, maxTokens, h * dh);
  }

  public LatentCache cache() {
    return cache;
  }

  @Override
  public int length() {
    return cache.length(0);
  }

  @Override
  public void reset() {
    cache.clear();
  }

  /** The first {@code rows·cols} elements of dense buffer {@code buf} as {@code [rows][cols]}. */
  private static Tensor view(Tensor buf, int rows, int cols) {
    return Tensor.of(buf.data(), DType.F32, rows, cols);
  }

  @Override
  protected void attention(int layer, Tensor xn, int[] positions, Tensor out) {
    MlaAttentionWeights w = mla[layer];
    LatentProjection p = projections[layer];
    int n = xn.rows();
    int h = config.heads();
    int dr = rope.ropeDim();
    int dh = config.headDim();
    Tensor qr = view(qRope, n, h * dr);
    Tensor qn = view(qNope, n, h * nope);
    Tensor kr = view(kRope, n, config.kvHeads() * dr);
    Tensor c = latent.rows(0, n);
    if (dr > 0) {
      backend.linear(xn, w.wqRope(), qr);
      Ops.addBias(qr, w.bqRope());
      backend.rope(qr, positions, rope, layer);
    }
    if (nope > 0) {
      backend.linear(xn, w.wqNope(), qn);
      Ops.addBias(qn, w.bqNope());
    }
    p.down(backend, xn, c, kr);
    if (dr > 0) {
      Ops.addBias(kr, w.bKr());
      backend.rope(kr, positions, rope, layer);
    }
    Tensor ql = qLatent.rows(0, n * h);
    p.absorbQuery(backend, view(qNope, n * h, nope), ql);
    Tensor u = uLatent.rows(0, n * h);
    backend.mlaPrefill(shape, view(qRope, n * h, dr), ql, c, kr, cache, layer, u);
    Tensor o = heads.rows(0, n);
    p.absorbOutput(backend, u, view(heads, n * h, dh));
    if (w.bUv() != null) {
      int group = config.groupSize();
      for (int t = 0; t < n; t++) {
        for (int head = 0; head < h; head++) {
          int base = (head / group) * dh;
          for (int i = 0; i < dh; i++) {
            o.set(t, head * dh + i, o.get(t, head * dh + i) + w.bUv().get(0, base + i));
          }
        }
      }
    }
    backend.linear(o, w.wo(), out);
  }

  @Override
  public void close() {
    cache.close();
    super.close();
  }
}
