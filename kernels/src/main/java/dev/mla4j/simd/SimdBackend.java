package dev.mla4j.simd;

import dev.mla4j.api.Backend;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.Tensor;

/**
 * Kernels written with the JDK Vector API. Loaded by class name from
 * {@link dev.mla4j.api.Backends} only after the incubator module was found readable.
 */
public final class SimdBackend extends Backend {
  private final MlaKernel mla = new SimdMlaAttention();
  private final MhaKernel mha = new SimdMhaAttention();

  /** @throws IllegalStateException if the vector width is refused (see {@link SimdConstants}) */
  public SimdBackend(int threads) {
    super(requireSpecies(threads));
  }

  /** Initialises the species before any worker thread starts, surfacing a refusal's reason. */
  private static int requireSpecies(int threads) {
    try {
      if (SimdConstants.LANES % 2 != 0) { // SimdRope swaps lanes in pairs
        throw new IllegalStateException("odd float lane count " + SimdConstants.LANES);
      }
      return threads;
    } catch (ExceptionInInitializerError e) {
      if (e.getCause() instanceof IllegalStateException refusal) {
        throw refusal;
      }
      throw e;
    }
  }

  /** Width of the float vectors every kernel uses, in bits. */
  public static int vectorBitSize() {
    return SimdConstants.FLOATS.vectorBitSize();
  }

  @Override
  public String name() {
    return "simd";
  }

  @Override
  public String description() {
    return "simd (JDK Vector API, " + vectorBitSize() + "-bit vectors, " + SimdConstants.LANES
        + " float lanes), " + threads() + " thread(s)";
  }

  @Override
  protected void linearBody(Tensor x, Tensor w, Tensor y) {
    SimdLinear.linear(x, w, y);
  }

  @Override
  protected void linearTransposedBody(Tensor x, Tensor w, Tensor y) {
    SimdLinear.linearTransposed(x, w, y);
  }

  @Override
  protected void ropeBody(Tensor x, int[] positions, PartialRope rope, int layer, int groupSize) {
    SimdRope.apply(x, positions, rope, layer, groupSize);
  }

  @Override
  protected MlaKernel mlaKernel() {
    return mla;
  }

  @Override
  protected MhaKernel mhaKernel() {
    return mha;
  }
}
