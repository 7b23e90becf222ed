package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.io.Checkpoint;
import dev.mla4j.io.SafetensorsWriter;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading small synthetic checkpoints: names, biases, tying, and the errors. */
class LlamaWeightsTest {
  @TempDir Path dir;

  static final int D = 8;
  static final int HEADS = 2;
  static final int KV = 1;
  static final int DH = 4;
  static final int FFN = 12;
  static final int VOCAB = 10;

  private void write(String type, boolean tied, String skip, int badRows) throws IOException {
    Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"" + type + "\","
        + "\"hidden_size\":" + D + ",\"num_hidden_layers\":1,\"num_attention_heads\":" + HEADS
        + ",\"num_key_value_heads\":" + KV + ",\"intermediate_size\":" + FFN + ",\"vocab_size\":"
        + VOCAB + ",\"tie_word_embeddings\":" + tied + "}");
    Arena a = Arena.ofAuto();
    SafetensorsWriter w = new SafetensorsWriter();
    String p = "model.layers.0.";
    Object[][] specs = {
        {"model.embed_tokens.weight", VOCAB, D}, {"model.norm.weight", 1, D},
        {p + "input_layernorm.weight", 1, D}, {p + "post_attention_layernorm.weight", 1, D},
        {p + "self_attn.q_proj.weight", HEADS * DH, D}, {p + "self_attn.k_proj.weight", KV * DH, D},
        {p + "self_attn.v_proj.weight", KV * DH, D}, {p + "self_attn.o_proj.weight", D, HEADS * DH},
        {p + "mlp.gate_proj.weight", FFN, D}, {p + "mlp.up_proj.weight", FFN, D},
        {p + "mlp.down_proj.weight", D, FFN}};
    for (Object[] s : specs) {
      String name = (String) s[0];
      int rows = name.contains("o_proj") ? badRows : (int) s[1];
      if (!name.equals(skip)) {
        Tensor t = Tensor.allocate(a, DType.BF16, rows, (int) s[2]);
        if (rows == 1) {
          w.add(name, t, (int) s[2]);
        } else {
          w.add(name, t);
        }
      }
    }
    if (!tied) {
      w.add("lm_head.weight", Tensor.allocate(a, DType.BF16, VOCAB, D));
    }
    if (type.equals("qwen2")) {
      w.add(p + "self_attn.q_proj.bias", Tensor.allocate(a, DType.BF16, 1, HEADS * DH), HEADS * DH);
      w.add(p + "self_attn.k_proj.bias", Tensor.allocate(a, DType.BF16, 1, KV * DH), KV * DH);
      w.add(p + "self_attn.v_proj.bias", Tensor.allocate(a, DType.BF16, 1, KV * DH), KV * DH);
    }
    w.write(dir.resolve(Checkpoint.SINGLE));
  }

  @Test
  void loadsLlamaWithUntiedHead() throws IOException {
    write("llama", false, "", D);
    try (LlamaWeights w = LlamaWeights.load(dir)) {
      assertEquals(D, w.layer(0).attention().wo().rows());
      assertNull(w.layer(0).attention().bq());
      assertEquals(VOCAB, w.lmHead().rows());
      assertTrue(w.lmHead() != w.embedding());
    }
  }

  @Test
  void loadsQwen2BiasesAndTiedHead() throws IOException {
    write("qwen2", true, "", D);
    try (LlamaWeights w = LlamaWeights.load(dir)) {
      assertNotNull(w.layer(0).attention().bk());
      assertEquals(KV * DH, w.layer(0).attention().bv().cols());
      assertSame(w.embedding(), w.lmHead());
    }
  }

  @Test
  void missingTensorIsNamed() throws IOException {
    write("mistral", false, "model.layers.0.mlp.up_proj.weight", D);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaWeights.load(dir));
    assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj.weight"), e.getMessage());
  }

  @Test
  void shapeDisagreeingWithConfigIsNamed() throws IOException {
    write("llama", false, "", D + 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaWeights.load(dir));
    assertTrue(e.getMessage().contains("o_proj") && e.getMessage().contains("config.json"),
        e.getMessage());
  }
}
