package dev.mla4j.rope;

/**
 * A checkpoint's RoPE scaling ({@code rope_scaling} / {@code rope_parameters} in a Hugging Face
 * config). Fields that a type does not use are ignored.
 *
 * @param type {@code default}, {@code linear}, {@code llama3} or {@code yarn}
 * @param factor context extension factor (linear, llama3, yarn)
 * @param originalMaxPositions pre-extension context (llama3, yarn)
 * @param lowFreqFactor llama3 only
 * @param highFreqFactor llama3 only
 * @param betaFast yarn only (HF default 32)
 * @param betaSlow yarn only (HF default 1)
 * @param mscale yarn only, 0 when absent
 * @param mscaleAllDim yarn only, 0 when absent
 * @param attentionFactor yarn only, NaN when absent (then derived from mscale)
 * @param truncate yarn only: round the correction range to whole dims (HF default true)
 */
public record RopeScaling(
    Type type,
    double factor,
    int originalMaxPositions,
    double lowFreqFactor,
    double highFreqFactor,
    double betaFast,
    double betaSlow,
    double mscale,
    double mscaleAllDim,
    double attentionFactor,
    boolean truncate) {

  public enum Type {
    DEFAULT, LINEAR, LLAMA3, YARN;

    /** Parses a Hugging Face {@code rope_type} string. */
    public static Type parse(String name) {
      return switch (name) {
        case "default" -> DEFAULT;
        case "linear" -> LINEAR;
        case "llama3" -> LLAMA3;
        case "yarn" -> YARN;
        default -> throw new IllegalArgumentException(
            "unsupported rope_type '" + name + "' (supported: default, linear, llama3, yarn)");
      };
    }
  }

  public RopeScaling {
    if (type != Type.DEFAULT && !(factor > 0)) {
      throw new IllegalArgumentException("rope scaling " + type + " needs factor > 0, got " + factor);
    }
    if ((type == Type.LLAMA3 || type == Type.YARN) && originalMaxPositions <= 0) {
      throw new IllegalArgumentException(
          "rope scaling " + type + " needs original_max_position_embeddings > 0");
    }
    if (type == Type.LLAMA3 && !(highFreqFactor > lowFreqFactor)) {
      throw new IllegalArgumentException("llama3 rope scaling needs high_freq_factor > low_freq_factor");
    }
  }

  public static RopeScaling none() {
    return new RopeScaling(Type.DEFAULT, 1, 0, 0, 0, 0, 0, 0, 0, Double.NaN, true);
  }

  public static RopeScaling linear(double factor) {
    return new RopeScaling(Type.LINEAR, factor, 0, 0, 0, 0, 0, 0, 0, Double.NaN, true);
  }

  public static RopeScaling llama3(
      double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    return new RopeScaling(Type.LLAMA3, factor, originalMaxPositions, lowFreqFactor, highFreqFactor,
        0, 0, 0, 0, Double.NaN, true);
  }

  /** YaRN with Hugging Face defaults (beta_fast 32, beta_slow 1, truncate) and the given mscales. */
  public static RopeScaling yarn(double factor, int originalMaxPositions, double mscale,
      double mscaleAllDim) {
    return new RopeScaling(Type.YARN, factor, originalMaxPositions, 0, 0, 32, 1, mscale,
        mscaleAllDim, Double.NaN, true);
  }
}
