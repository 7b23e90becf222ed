package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;

/**
 * One converted attention layer (spec 3.7 / 4.1). Row orders: compact rope rows are, per head,
 * the kept pairs' first elements in ascending pair order, then their second elements
 * (half-split; spec 2.4); nope rows are the remaining dims of the head in ascending order.
 * Biases are {@code [1][rows]} or null.
 *
 * @param keptPairs {@code [n_kv][r]} ascending pair indices per kv head
 * @param wqRope {@code [n_h·d_r][d]}
 * @param bqRope {@code [1][n_h·d_r]} or null
 * @param wqNope {@code [n_h·d_nope][d]}
 * @param bqNope {@code [1][n_h·d_nope]} or null
 * @param wKr {@code [n_kv·d_r][d]}
 * @param bKr {@code [1][n_kv·d_r]} or null
 * @param wDkv {@code [L][d]}
 * @param wUk {@code [n_kv·d_nope][L]}
 * @param bUk {@code [1][n_kv·d_nope]} or null (cancels in softmax, spec 4.3)
 * @param wUv {@code [n_kv·d_h][L]}
 * @param bUv {@code [1][n_kv·d_h]} or null (added to each head's output)
 * @param wo {@code [d][n_h·d_h]}, unchanged from the original model
 */
public record MlaAttentionWeights(
    int[][] keptPairs,
    Tensor wqRope, Tensor bqRope, Tensor wqNope, Tensor bqNope,
    Tensor wKr, Tensor bKr,
    Tensor wDkv, Tensor wUk, Tensor bUk, Tensor wUv, Tensor bUv,
    Tensor wo) {}
