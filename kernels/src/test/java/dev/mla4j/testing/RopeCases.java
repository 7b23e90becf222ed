package dev.mla4j.testing;

import dev.mla4j.oracle.RopeOracle;
import dev.mla4j.rope.RopeScaling;

/**
 * The rope scalings the tests sweep, each with the oracle's frequencies computed from the
 * scaling's plain parameters (not from {@code RopeFrequencies}).
 */
public enum RopeCases {
  DEFAULT(RopeScaling.none()),
  LINEAR(RopeScaling.linear(4)),
  /** Llama 3.1 8B's rope_scaling. */
  LLAMA3(RopeScaling.llama3(8, 1, 4, 8192)),
  /** DeepSeek-V2's rope_scaling: factor 40, original 4096, mscale 0.707 both. */
  YARN(RopeScaling.yarn(40, 4096, 0.707, 0.707)),
  /** YaRN without mscales: attention factor 0.1·ln(factor) + 1. */
  YARN_PLAIN(RopeScaling.yarn(16, 2048, 0, 0));

  public final RopeScaling scaling;

  RopeCases(RopeScaling scaling) {
    this.scaling = scaling;
  }

  public double[] oracleInvFreq(int dim, double theta) {
    RopeScaling s = scaling;
    return switch (this) {
      case DEFAULT -> RopeOracle.defaultInvFreq(dim, theta);
      case LINEAR -> RopeOracle.linearInvFreq(dim, theta, s.factor());
      case LLAMA3 -> RopeOracle.llama3InvFreq(dim, theta, s.factor(), s.lowFreqFactor(),
          s.highFreqFactor(), s.originalMaxPositions());
      case YARN, YARN_PLAIN -> RopeOracle.yarnInvFreq(dim, theta, s.factor(),
          s.originalMaxPositions(), s.betaFast(), s.betaSlow(), s.truncate());
    };
  }

  public double oracleAttentionFactor() {
    return switch (this) {
      case YARN, YARN_PLAIN -> RopeOracle.yarnAttentionFactor(scaling.factor(), scaling.mscale(),
          scaling.mscaleAllDim(), scaling.attentionFactor());
      default -> 1;
    };
  }
}
