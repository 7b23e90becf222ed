package dev.mla4j.scalar;

import dev.mla4j.api.Backend;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.Tensor;

/** Plain Java kernels: always available, written to be read. */
public final class ScalarBackend extends Backend {
  private final MlaKernel mla = new ScalarMlaAttention();
  private final MhaKernel mha = new ScalarMhaAttention();

  public ScalarBackend(int threads) {
    super(threads);
  }

  @Override
  public String name() {
    return "scalar";
  }

  @Override
  public String description() {
    return "scalar (plain Java), " + threads() + " thread(s)";
  }

  @Override
  protected void linearBody(Tensor x, Tensor w, Tensor y) {
    ScalarLinear.linear(x, w, y);
  }

  @Override
  protected void linearTransposedBody(Tensor x, Tensor w, Tensor y) {
    ScalarLinear.linearTransposed(x, w, y);
  }

  @Override
  protected void ropeBody(Tensor x, int[] positions, PartialRope rope, int layer, int groupSize) {
    ScalarRope.apply(x, positions, rope, layer, groupSize);
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
