package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;

/**
 * Attention shapes of one layer of real models (spec 5.3 and 8.1), each with the MHA baseline
 * the MLA layer replaces. The enum names are the values of DecodeBenchmark's {@code preset}.
 */
public enum DecodePreset {
  /** Llama-2-7B after MHA2MLA, d_kv 16: n_h = n_kv = 32, d_h 128, r 8, L 512. */
  LLAMA2_7B_DKV16(MlaShape.mha2mla(32, 32, 128, 8, 16), MhaShape.of(32, 32, 128)),
  /** Llama-2-7B after MHA2MLA, d_kv 32: L 1024. */
  LLAMA2_7B_DKV32(MlaShape.mha2mla(32, 32, 128, 8, 32), MhaShape.of(32, 32, 128)),
  /**
   * DeepSeek-V2: 128 heads, one shared 64-d rope key, L 512, scale 1/sqrt(192) (YaRN's mscale
   * left out: it only rescales scores). Baseline: the 128-head, d_h 128 MHA of spec 8.1.
   */
  DEEPSEEK_V2(new MlaShape(128, 1, 64, 512, RopeKeyLayout.SHARED, (float) (1 / Math.sqrt(192))),
      MhaShape.of(128, 128, 128)),
  /** SmolLM-135M (GQA) after MHA2MLA, d_kv 16: n_h 9, n_kv 3, d_h 64, r 4, L 48. */
  SMOLLM_135M_DKV16(MlaShape.mha2mla(9, 3, 64, 4, 16), MhaShape.of(9, 3, 64));

  private final MlaShape mla;
  private final MhaShape mha;

  DecodePreset(MlaShape mla, MhaShape mha) {
    this.mla = mla;
    this.mha = mha;
  }

  public MlaShape mla() {
    return mla;
  }

  public MhaShape mha() {
    return mha;
  }
}
