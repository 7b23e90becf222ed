package dev.mla4j.convert;

/**
 * Settings of the activation-aware low rank (spec 9.2 and {@link AttentionErrorWeights}).
 *
 * @param objective what is minimised over the calibration inputs
 * @param eigenFloor relative floor of the input moments' eigenvalues, in (0, 1)
 * @param damping added to every eigenvalue, relative to their mean (0: none; → ∞: weight-only)
 * @param keyWeight factor on the key-error weights of {@link AwareObjective#ATTENTION} (1: the
 *     first-order balance of logit and output errors)
 */
public record ActivationAwareOptions(AwareObjective objective, double eigenFloor, double damping,
    double keyWeight) {

  /** The attention objective, floor 1e-6, no damping, first-order key weight. */
  public static final ActivationAwareOptions DEFAULT =
      new ActivationAwareOptions(AwareObjective.ATTENTION, ActivationAwareSvd.DEFAULT_FLOOR, 0, 1);

  public ActivationAwareOptions {
    if (objective == null) {
      throw new IllegalArgumentException("activation-aware objective must be given");
    }
    if (!(eigenFloor > 0 && eigenFloor < 1)) {
      throw new IllegalArgumentException("eigenvalue floor must be in (0, 1), got " + eigenFloor);
    }
    if (!(damping >= 0) || Double.isInfinite(damping)) {
      throw new IllegalArgumentException("damping must be finite and >= 0, got " + damping);
    }
    if (!(keyWeight > 0) || Double.isInfinite(keyWeight)) {
      throw new IllegalArgumentException("key weight must be finite and > 0, got " + keyWeight);
    }
  }

  public ActivationAwareOptions withObjective(AwareObjective o) {
    return new ActivationAwareOptions(o, eigenFloor, damping, keyWeight);
  }

  public ActivationAwareOptions withDamping(double d) {
    return new ActivationAwareOptions(objective, eigenFloor, d, keyWeight);
  }

  public ActivationAwareOptions withKeyWeight(double w) {
    return new ActivationAwareOptions(objective, eigenFloor, damping, w);
  }
}
