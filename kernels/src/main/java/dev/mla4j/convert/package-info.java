/**
 * MHA2MLA conversion math (spec sections 2-3 and 9.2): calibration statistics gathered through
 * {@link dev.mla4j.model.AttentionInputListener}, partial-RoPE pair selection, truncated SVDs
 * (exact by Commons Math for small matrices, randomized on a {@link dev.mla4j.api.Backend}'s GEMM
 * for large ones), the weight-only and activation-aware low-rank factorizations, and
 * {@link dev.mla4j.convert.MlaConverter}, which turns one original attention layer into
 * {@link dev.mla4j.model.MlaAttentionWeights}. Depends on api, tensor, model and Commons Math.
 */
package dev.mla4j.convert;
