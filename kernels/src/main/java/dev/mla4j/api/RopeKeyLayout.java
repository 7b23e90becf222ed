package dev.mla4j.api;

/** How an MLA cache stores its decoupled RoPE keys. */
public enum RopeKeyLayout {
  /** MHA2MLA: one rope key per kv head, {@code [n_kv][d_r]} per token. */
  PER_KV_HEAD,
  /** DeepSeek: one rope key shared by all heads, {@code [d_r]} per token. */
  SHARED
}
