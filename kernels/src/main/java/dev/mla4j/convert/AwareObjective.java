package dev.mla4j.convert;

import java.util.Locale;

/** What the activation-aware low rank minimises over the calibration inputs. */
public enum AwareObjective {
  /** Spec 9.2 as published: {@code E‖Δk‖² + E‖Δv‖²}, the raw error of the projected keys and values. */
  KV,
  /**
   * The error the layer output sees: key errors weighted by the query second moments (they move
   * the logits), value errors by W_o (they move the output), see {@link AttentionErrorWeights}.
   */
  ATTENTION;

  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
