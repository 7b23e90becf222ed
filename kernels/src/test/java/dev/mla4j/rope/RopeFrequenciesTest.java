package dev.mla4j.rope;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.testing.RopeCases;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The library's inverse frequencies after scaling vs the oracle's Hugging Face formulas. */
class RopeFrequenciesTest {

  @ParameterizedTest
  @EnumSource(RopeCases.class)
  void matchesOracle(RopeCases rc) {
    for (int dim : new int[] {2, 64, 128}) {
      for (double theta : new double[] {1e4, 5e5}) {
        RopeFrequencies f = RopeFrequencies.of(dim, theta, rc.scaling);
        double[] ref = rc.oracleInvFreq(dim, theta);
        assertEquals(ref.length, f.pairs());
        for (int i = 0; i < ref.length; i++) {
          // the library stores float θ: one rounding of a double
          assertEquals(ref[i], f.invFreq()[i], Math.ulp((float) ref[i]),
              rc + " d_h=" + dim + " theta=" + theta + " pair " + i);
        }
        assertEquals(rc.oracleAttentionFactor(), f.attentionFactor(), 1e-6, rc + " attention");
      }
    }
  }

  @Test
  void deepSeekYarnAttentionFactorIsOneAndScalingChangesLowFrequencies() {
    // mscale == mscale_all_dim: the cos/sin factor cancels to 1 (the softmax scale carries mscale²)
    RopeFrequencies f = RopeFrequencies.of(64, 1e4, RopeCases.YARN.scaling);
    assertEquals(1.0, f.attentionFactor(), 1e-7);
    RopeFrequencies base = RopeFrequencies.of(64, 1e4, RopeScaling.none());
    assertEquals(base.invFreq()[0], f.invFreq()[0], 0, "fastest pair is extrapolated");
    assertEquals(base.invFreq()[31] / 40, f.invFreq()[31], 1e-12, "slowest pair is interpolated");
    assertTrue(RopeFrequencies.of(64, 1e4, RopeCases.YARN_PLAIN.scaling).attentionFactor() > 1.2);
  }

  @Test
  void badParametersNameTheProblem() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> RopeFrequencies.of(63, 1e4, RopeScaling.none()));
    assertTrue(e.getMessage().contains("even"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> RopeScaling.Type.parse("dynamic"));
    assertTrue(e.getMessage().contains("dynamic"), e.getMessage());
  }
}
