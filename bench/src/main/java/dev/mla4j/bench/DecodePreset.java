package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import java.util.Arrays;

/**
 * Attention shapes of real models (spec 5.3 and 8.1), each with the MHA/GQA baseline the MLA
 * layer replaces and the model's layer count (for whole-model cache sizes). The MHA2MLA presets
 * are the paper's: r = d_h/16 kept pairs, d_kv per kv head, L = n_kv·d_kv. The enum names are
 * the values of the benchmarks' {@code preset} parameter.
 */
public enum DecodePreset {
  SMOLLM_135M_DKV32("SmolLM-135M", 30, 32, mha2mla(9, 3, 64, 32), MhaShape.of(9, 3, 64)),
  /** SmolLM-135M (GQA) d_kv 16: n_h 9, n_kv 3, d_h 64, r 4, L 48. */
  SMOLLM_135M_DKV16("SmolLM-135M", 30, 16, mha2mla(9, 3, 64, 16), MhaShape.of(9, 3, 64)),
  SMOLLM_135M_DKV8("SmolLM-135M", 30, 8, mha2mla(9, 3, 64, 8), MhaShape.of(9, 3, 64)),
  SMOLLM_360M_DKV32("SmolLM-360M", 32, 32, mha2mla(15, 5, 64, 32), MhaShape.of(15, 5, 64)),
  /** SmolLM-360M (GQA) d_kv 16: n_h 15, n_kv 5, d_h 64, r 4, L 80. */
  SMOLLM_360M_DKV16("SmolLM-360M", 32, 16, mha2mla(15, 5, 64, 16), MhaShape.of(15, 5, 64)),
  SMOLLM_360M_DKV8("SmolLM-360M", 32, 8, mha2mla(15, 5, 64, 8), MhaShape.of(15, 5, 64)),
  SMOLLM_1_7B_DKV32("SmolLM-1.7B", 24, 32, mha2mla(32, 32, 64, 32), MhaShape.of(32, 32, 64)),
  /** SmolLM-1.7B (MHA) d_kv 16: n_h = n_kv = 32, d_h 64, r 4, L 512. */
  SMOLLM_1_7B_DKV16("SmolLM-1.7B", 24, 16, mha2mla(32, 32, 64, 16), MhaShape.of(32, 32, 64)),
  SMOLLM_1_7B_DKV8("SmolLM-1.7B", 24, 8, mha2mla(32, 32, 64, 8), MhaShape.of(32, 32, 64)),
  LLAMA2_7B_DKV64("Llama-2-7B", 32, 64, mha2mla(32, 32, 128, 64), MhaShape.of(32, 32, 128)),
  /** Llama-2-7B d_kv 32: L 1024. */
  LLAMA2_7B_DKV32("Llama-2-7B", 32, 32, mha2mla(32, 32, 128, 32), MhaShape.of(32, 32, 128)),
  /** Llama-2-7B (MHA) d_kv 16: n_h = n_kv = 32, d_h 128, r 8, L 512. */
  LLAMA2_7B_DKV16("Llama-2-7B", 32, 16, mha2mla(32, 32, 128, 16), MhaShape.of(32, 32, 128)),
  /**
   * DeepSeek-V2-Lite (spec 8.1): 16 heads, one shared 64-d rope key, latent 512, 27 layers.
   * Baseline: 16-head MHA with d_h 128 (v_head_dim), as spec 8.1 compares DeepSeek-V2.
   */
  DEEPSEEK_V2_LITE("DeepSeek-V2-Lite", 27, 0, deepSeek(16), MhaShape.of(16, 16, 128)),
  /**
   * DeepSeek-V2: 128 heads, one shared 64-d rope key, L 512, scale 1/sqrt(192) (YaRN's mscale
   * left out: it only rescales scores). Baseline: the 128-head, d_h 128 MHA of spec 8.1.
   */
  DEEPSEEK_V2("DeepSeek-V2", 60, 0, deepSeek(128), MhaShape.of(128, 128, 128));

  private final String model;
  private final int layers;
  private final int dKv;
  private final MlaShape mla;
  private final MhaShape mha;

  DecodePreset(String model, int layers, int dKv, MlaShape mla, MhaShape mha) {
    this.model = model;
    this.layers = layers;
    this.dKv = dKv;
    this.mla = mla;
    this.mha = mha;
  }

  /** MHA2MLA at the paper's setting r = d_h/16. */
  private static MlaShape mha2mla(int heads, int kvHeads, int headDim, int dKv) {
    return MlaShape.mha2mla(heads, kvHeads, headDim, headDim / 16, dKv);
  }

  /** DeepSeek MLA: latent 512, shared 64-d rope key, scale 1/sqrt(128 + 64). */
  private static MlaShape deepSeek(int heads) {
    return new MlaShape(heads, 1, 64, 512, RopeKeyLayout.SHARED, (float) (1 / Math.sqrt(192)));
  }

  /** A preset by enum name, or an exception listing the valid names. */
  public static DecodePreset named(String name) {
    try {
      return valueOf(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown preset " + name + "; one of "
          + Arrays.toString(values()), e);
    }
  }

  /** Model name, e.g. {@code Llama-2-7B}. */
  public String model() {
    return model;
  }

  /** Decoder layers of the whole model. */
  public int layers() {
    return layers;
  }

  /** The paper's d_kv per kv head; 0 for DeepSeek's own MLA. */
  public int dKv() {
    return dKv;
  }

  /** e.g. {@code Llama-2-7B d_kv 16} or {@code DeepSeek-V2-Lite}. */
  public String label() {
    return dKv > 0 ? model + " d_kv " + dKv : model;
  }

  public MlaShape mla() {
    return mla;
  }

  public MhaShape mha() {
    return mha;
  }
}
