package dev.mla4j.rope;

/**
 * Where the two elements of RoPE pair {@code m} sit inside a compact {@code [2r]} rope vector.
 */
public enum PairLayout {
  /** Hugging Face Llama "rotate_half": pair m is elements (m, m + r). */
  HALF_SPLIT,
  /** GPT-J / DeepSeek checkpoints: pair m is elements (2m, 2m + 1). */
  INTERLEAVED;

  /** Index of the first element of pair {@code m} in a vector of {@code r} pairs. */
  public int first(int m, int r) {
    return this == HALF_SPLIT ? m : 2 * m;
  }

  /** Index of the second element of pair {@code m} in a vector of {@code r} pairs. */
  public int second(int m, int r) {
    return this == HALF_SPLIT ? m + r : 2 * m + 1;
  }
}
