package dev.mla4j.model;

/**
 * A converted model's shape and how it was made.
 *
 * @param base the original model's configuration
 * @param r kept RoPE pairs per kv head (d_r = 2r)
 * @param dKv latent width per kv head
 * @param strategy pair selection strategy, e.g. {@code 2-norm}
 * @param svdMethod e.g. {@code joint}, {@code split}, {@code none}
 * @param sigmaPlacement where singular values go, e.g. {@code sqrt} or {@code up}
 */
public record MlaConfig(ModelConfig base, int r, int dKv, String strategy, String svdMethod,
    String sigmaPlacement) {

  /** L = n_kv·d_kv. */
  public int latentDim() {
    return base.kvHeads() * dKv;
  }
}
