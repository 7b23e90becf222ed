package dev.mla4j.model;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
import dev.mla4j.rope.PairLayout;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;

/**
 * The original MHA/GQA forward pass with a {@link KvCache}, optionally with partial RoPE
 * (spec 2.4, the "no SVD" converted model): only the kept pairs of each (layer, kv head) rotate,
 * the other dims of q and k stay unrotated.
 *
 * <p>Partial RoPE permutes each head's q/k dims (rows of W_q, W_k and their biases, copied once)
 * so that the kept pairs come first in compact half-split order, then the remaining dims
 * ascending. Query and key heads are permuted alike, so the dot products, and hence attention, do
 * not change; V and W_o are untouched. Each head's first d_r dims are then rotated in place by
 * the library's rope kernel, through a PartialRope with one "layer" per (layer, kv head).
 */
public final class LlamaModel extends DecoderModel {
  private final MhaShape shape;
  private final KvCache cache;
  private final PartialRope rope;
  /** Partial RoPE only: W_q, b_q, W_k, b_k with permuted rows, per layer; null for full RoPE. */
  private final Tensor[][] permuted;
  private final Tensor q;
  private final Tensor k;
  private final Tensor v;
  private final Tensor heads;

  /** Full RoPE (the original model), F32 cache. */
  public LlamaModel(LlamaWeights weights, Backend backend, int maxTokens) {
    this(weights, backend, maxTokens, DType.F32, null);
  }

  /**
   * @param cacheType F32 or BF16 (F16 also works)
   * @param keptPairs null for full RoPE, else {@code [layers][n_kv][r]} ascending pair indices
   */
  public LlamaModel(LlamaWeights weights, Backend backend, int maxTokens, DType cacheType,
      int[][][] keptPairs) {
    this(weights, backend, maxTokens, CacheFormat.plain(cacheType), keptPairs);
  }

  /**
   * @param cacheFormat plain, or int8/int4/fp8 K and V (quantized on append), the MHA baseline
   *     of a quantized latent cache
   * @param keptPairs null for full RoPE, else {@code [layers][n_kv][r]} ascending pair indices
   */
  public LlamaModel(LlamaWeights weights, Backend backend, int maxTokens, CacheFormat cacheFormat,
      int[][][] keptPairs) {
    super(weights, backend, maxTokens);
    ModelConfig c = config;
    if (weights.layer(0).attention() == null) {
      throw new IllegalArgumentException("these weights have no q/k/v projections (an MLA "
          + "checkpoint?); load converted models with MlaCheckpoint and run them as MlaModel");
    }
    int dh = c.headDim();
    this.shape = MhaShape.of(c.heads(), c.kvHeads(), dh);
    this.cache = new KvCache(shape, c.layers(), cacheFormat, maxTokens);
    if (keptPairs == null) {
      this.rope = PartialRope.full(c.ropeFrequencies(), PairLayout.HALF_SPLIT, c.layers(),
          c.kvHeads());
      this.permuted = null;
    } else {
      if (keptPairs.length != c.layers()) {
        throw new IllegalArgumentException("kept pairs given for " + keptPairs.length
            + " layers, the model has " + c.layers());
      }
      int[][][] flat = new int[c.layers() * c.kvHeads()][1][];
      for (int l = 0; l < c.layers(); l++) {
        if (keptPairs[l].length != c.kvHeads()) {
          throw new IllegalArgumentException("layer " + l + ": kept pairs for "
              + keptPairs[l].length + " kv heads, the model has " + c.kvHeads());
        }
        for (int j = 0; j < c.kvHeads(); j++) {
          flat[l * c.kvHeads() + j][0] = keptPairs[l][j];
        }
      }
      this.rope = new PartialRope(c.ropeFrequencies(), PairLayout.HALF_SPLIT, flat);
      this.permuted = new Tensor[c.layers()][];
      for (int l = 0; l < c.layers(); l++) {
        permuted[l] = permute(weights.layer(l).attention(), rope, l);
      }
    }
    this.q = Ops.f32(arena, maxTokens, c.heads() * dh);
    this.k = Ops.f32(arena, maxTokens, shape.kvWidth());
    this.v = Ops.f32(arena, maxTokens, shape.kvWidth());
    this.heads = Ops.f32(arena, maxTokens, c.heads() * dh);
  }

  /** Row order of each head: kept firsts, kept seconds (half-split), then the rest ascending. */
  private Tensor[] permute(AttentionWeights a, PartialRope flat, int layer) {
    int dh = config.headDim();
    int half = dh / 2;
    int[] qRows = new int[config.heads() * dh];
    int[] kRows = new int[config.kvHeads() * dh];
    for (int j = 0; j < config.kvHeads(); j++) {
      int[] order = headOrder(flat.kept(layer * config.kvHeads() + j, 0), half);
      for (int i = 0; i < dh; i++) {
        kRows[j * dh + i] = j * dh + order[i];
        for (int g = 0; g < config.groupSize(); g++) {
          int h = j * config.groupSize() + g;
          qRows[h * dh + i] = h * dh + order[i];
        }
      }
    }
    return new Tensor[] {Ops.gatherRows(arena, a.wq(), qRows), gatherBias(a.bq(), qRows),
        Ops.gatherRows(arena, a.wk(), kRows), gatherBias(a.bk(), kRows)};
  }

  private Tensor gatherBias(Tensor bias, int[] order) {
    if (bias == null) {
      return null;
    }
    Tensor out = Ops.f32(arena, 1, order.length);
    for (int i = 0; i < order.length; i++) {
      out.set(0, i, bias.get(0, order[i]));
    }
    return out;
  }

  /** A head's dims: kept pairs' first elements, their second elements, then the others. */
  static int[] headOrder(int[] kept, int half) {
    int[] order = new int[2 * half];
    boolean[] used = new boolean[2 * half];
    int r = kept.length;
    for (int m = 0; m < r; m++) {
      order[m] = kept[m];
      order[r + m] = kept[m] + half;
      used[kept[m]] = true;
      used[kept[m] + half] = true;
    }
    int n = 2 * r;
    for (int i = 0; i < 2 * half; i++) {
      if (!used[i]) {
        order[n++] = i;
      }
    }
    return order;
  }

  public KvCache cache() {
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

  @Override
  protected void attention(int layer, Tensor xn, int[] positions, Tensor out) {
    int n = xn.rows();
    AttentionWeights a = weights.layer(layer).attention();
    Tensor qs = q.rows(0, n);
    Tensor ks = k.rows(0, n);
    Tensor vs = v.rows(0, n);
    Tensor[] p = permuted == null ? null : permuted[layer];
    backend.linear(xn, p == null ? a.wq() : p[0], qs);
    Ops.addBias(qs, p == null ? a.bq() : p[1]);
    backend.linear(xn, p == null ? a.wk() : p[2], ks);
    Ops.addBias(ks, p == null ? a.bk() : p[3]);
    backend.linear(xn, a.wv(), vs);
    Ops.addBias(vs, a.bv());
    if (p == null) {
      backend.rope(qs, positions, rope, layer);
      backend.rope(ks, positions, rope, layer);
    } else {
      ropeHeads(qs, positions, layer, config.groupSize());
      ropeHeads(ks, positions, layer, 1);
    }
    Tensor o = heads.rows(0, n);
    int dh = config.headDim();
    backend.mhaPrefill(shape, qs.splitRows(dh), ks, vs, cache, layer, o.splitRows(dh));
    backend.linear(o, a.wo(), out);
  }

  /** Rotates the first d_r dims of every head of {@code x [T][heads·d_h]} (permuted order). */
  private void ropeHeads(Tensor x, int[] positions, int layer, int group) {
    int dh = config.headDim();
    int dr = rope.ropeDim();
    for (int h = 0; h < x.cols() / dh; h++) {
      backend.rope(x.cols(h * dh, dr), positions, rope, layer * config.kvHeads() + h / group);
    }
  }

  @Override
  public void close() {
    cache.close();
    super.close();
  }
}
