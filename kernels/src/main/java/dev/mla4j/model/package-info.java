/**
 * Hugging Face decoder models on mla4j's kernels: config, weights (views of a memory-mapped
 * checkpoint), the forward pass of the original and the MLA-converted model, and perplexity.
 * Depends on api, tensor, rope, cache, projection and io.
 */
package dev.mla4j.model;
