/**
 * Safetensors checkpoints: a validating memory-mapped reader (single file or sharded through
 * {@code model.safetensors.index.json}) and an atomic writer. Depends only on tensor.
 */
package dev.mla4j.io;
