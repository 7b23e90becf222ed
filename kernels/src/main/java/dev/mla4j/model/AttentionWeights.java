package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;

/**
 * One layer's original attention projections, views of the checkpoint. Biases (qwen2) are
 * {@code [1][rows]} or null.
 *
 * @param wq {@code [n_h·d_h][d]}
 * @param bq {@code [1][n_h·d_h]} or null
 * @param wk {@code [n_kv·d_h][d]}
 * @param bk {@code [1][n_kv·d_h]} or null
 * @param wv {@code [n_kv·d_h][d]}
 * @param bv {@code [1][n_kv·d_h]} or null
 * @param wo {@code [d][n_h·d_h]}
 */
public record AttentionWeights(Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv,
    Tensor wo) {}
