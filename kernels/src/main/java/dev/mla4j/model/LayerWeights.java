package dev.mla4j.model;

import dev.mla4j.tensor.Tensor;

/**
 * One decoder layer's weights, views of the checkpoint.
 *
 * @param inputNorm {@code [1][d]} RMSNorm weight before attention
 * @param postNorm {@code [1][d]} RMSNorm weight before the MLP
 * @param wGate {@code [ffn][d]}
 * @param wUp {@code [ffn][d]}
 * @param wDown {@code [d][ffn]}
 */
public record LayerWeights(Tensor inputNorm, AttentionWeights attention, Tensor postNorm,
    Tensor wGate, Tensor wUp, Tensor wDown) {}
