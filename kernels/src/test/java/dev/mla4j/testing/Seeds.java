package dev.mla4j.testing;

import java.util.SplittableRandom;

/**
 * Random inputs that can be replayed. The run's base seed is {@code -Dmla4j.test.seed} if given,
 * else {@link System#nanoTime()}, so every run draws fresh inputs; each test case mixes its own
 * name into the base seed, and every failure message carries both, so
 * {@code -Dmla4j.test.seed=<base>} reproduces the failing case exactly.
 */
public final class Seeds {
  public static final long BASE = Long.getLong("mla4j.test.seed", System.nanoTime());

  private Seeds() {}

  /** A case's random stream; its {@link Case#toString()} goes into failure messages. */
  public record Case(String name, long seed, SplittableRandom random) {
    @Override
    public String toString() {
      return "[" + name + ", seed " + seed + "; replay with -Dmla4j.test.seed=" + BASE + "]";
    }

    /** Normal(0, std²) sample. */
    public float gaussian(double std) {
      return (float) (random.nextGaussian() * std);
    }

    public float[] gaussians(int n, double std) {
      float[] out = new float[n];
      for (int i = 0; i < n; i++) {
        out[i] = gaussian(std);
      }
      return out;
    }

    public int nextInt(int bound) {
      return random.nextInt(bound);
    }
  }

  public static Case forCase(String name) {
    long seed = mix(BASE ^ (name.hashCode() * 0x9E3779B97F4A7C15L));
    return new Case(name, seed, new SplittableRandom(seed));
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
