package dev.mla4j.model;

import dev.mla4j.io.Checkpoint;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The weights of a llama / mistral / qwen2 checkpoint in Hugging Face naming, as views of the
 * memory-mapped files (stored dtype, no copies). Valid until {@link #close()}.
 */
public final class LlamaWeights implements AutoCloseable {
  private final ModelConfig config;
  private final Checkpoint checkpoint;
  private final Tensor embedding;
  private final LayerWeights[] layers;
  private final Tensor finalNorm;
  private final Tensor lmHead;

  private LlamaWeights(ModelConfig config, Checkpoint checkpoint, boolean attention) {
    this.config = config;
    this.checkpoint = checkpoint;
    int d = config.hiddenSize();
    this.embedding = weight("model.embed_tokens.weight", config.vocabSize(), d);
    this.layers = new LayerWeights[config.layers()];
    for (int l = 0; l < layers.length; l++) {
      layers[l] = layer(config, l, attention);
    }
    this.finalNorm = weight("model.norm.weight", 1, d);
    this.lmHead = config.tieWordEmbeddings() ? embedding
        : weight("lm_head.weight", config.vocabSize(), d);
  }

  /** Reads {@code config.json} and the safetensors in {@code folder}. */
  public static LlamaWeights load(Path folder) throws IOException {
    return load(folder, true);
  }

  /**
   * Everything but the attention projections (embedding, norms, MLP, LM head), for checkpoints
   * whose attention is stored in another form, e.g. an MLA checkpoint; {@link
   * LayerWeights#attention()} is then null.
   */
  public static LlamaWeights loadWithoutAttention(Path folder) throws IOException {
    return load(folder, false);
  }

  private static LlamaWeights load(Path folder, boolean attention) throws IOException {
    ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
    Checkpoint c = Checkpoint.open(folder);
    try {
      return new LlamaWeights(config, c, attention);
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private LayerWeights layer(ModelConfig c, int l, boolean attention) {
    String p = "model.layers." + l + ".";
    int d = c.hiddenSize();
    int q = c.heads() * c.headDim();
    int kv = c.kvHeads() * c.headDim();
    boolean b = c.attentionBias();
    AttentionWeights a = !attention ? null : new AttentionWeights(
        weight(p + "self_attn.q_proj.weight", q, d), b ? weight(p + "self_attn.q_proj.bias", 1, q) : null,
        weight(p + "self_attn.k_proj.weight", kv, d), b ? weight(p + "self_attn.k_proj.bias", 1, kv) : null,
        weight(p + "self_attn.v_proj.weight", kv, d), b ? weight(p + "self_attn.v_proj.bias", 1, kv) : null,
        weight(p + "self_attn.o_proj.weight", d, q));
    int ffn = c.intermediateSize();
    return new LayerWeights(weight(p + "input_layernorm.weight", 1, d), a,
        weight(p + "post_attention_layernorm.weight", 1, d),
        weight(p + "mlp.gate_proj.weight", ffn, d), weight(p + "mlp.up_proj.weight", ffn, d),
        weight(p + "mlp.down_proj.weight", d, ffn));
  }

  private Tensor weight(String name, int rows, int cols) {
    Tensor t = checkpoint.tensor(name);
    if (t.rows() != rows || t.cols() != cols) {
      throw new IllegalArgumentException(checkpoint.file(name).path() + ": tensor '" + name
          + "' is " + t.shape() + " but config.json implies [" + rows + "][" + cols + "]");
    }
    return t;
  }

  public ModelConfig config() {
    return config;
  }

  /** {@code [vocab][d]} */
  public Tensor embedding() {
    return embedding;
  }

  public LayerWeights layer(int l) {
    return layers[l];
  }

  /** {@code [1][d]} */
  public Tensor finalNorm() {
    return finalNorm;
  }

  /** {@code [vocab][d]}, the embedding itself when tied. */
  public Tensor lmHead() {
    return lmHead;
  }

  /** The open checkpoint, e.g. for a converter to refuse writing over it. */
  public Checkpoint checkpoint() {
    return checkpoint;
  }

  @Override
  public void close() {
    checkpoint.close();
  }
}
