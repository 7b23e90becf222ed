/**
 * The command line: {@code convert} (Hugging Face checkpoint to MLA) and {@code eval}
 * (perplexity and cache size). Depends on model, convert, io and api; nothing depends on it.
 */
package dev.mla4j.cli;
