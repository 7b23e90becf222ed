package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.rope.RopeScaling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {
  @TempDir Path dir;

  private ModelConfig read(String json) throws IOException {
    Path p = dir.resolve("config.json");
    Files.writeString(p, json);
    return ModelConfig.read(p);
  }

  private static final String BASE = "\"hidden_size\":64,\"num_hidden_layers\":2,"
      + "\"num_attention_heads\":4,\"intermediate_size\":96,\"vocab_size\":50,"
      + "\"rms_norm_eps\":1e-5,\"max_position_embeddings\":256";

  @Test
  void llamaWithTopLevelRopeAndDerivedHeadDim() throws IOException {
    ModelConfig c = read("{\"model_type\":\"llama\"," + BASE + ",\"rope_theta\":500000.0,"
        + "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
        + "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":128}}");
    assertEquals(16, c.headDim());
    assertEquals(4, c.kvHeads());
    assertEquals(500000.0, c.ropeTheta());
    assertEquals(RopeScaling.Type.LLAMA3, c.ropeScaling().type());
    assertEquals(8.0, c.ropeScaling().factor());
    assertEquals(128, c.ropeScaling().originalMaxPositions());
    assertFalse(c.attentionBias());
    assertFalse(c.tieWordEmbeddings());
    assertEquals(1e-5, c.rmsNormEps());
  }

  @Test
  void mistralWithRopeParametersGqaAndExplicitHeadDim() throws IOException {
    ModelConfig c = read("{\"model_type\":\"mistral\"," + BASE + ",\"num_key_value_heads\":2,"
        + "\"head_dim\":32,\"rope_parameters\":{\"rope_theta\":1000.0,\"rope_type\":\"linear\","
        + "\"factor\":2.0}}");
    assertEquals(32, c.headDim());
    assertEquals(2, c.kvHeads());
    assertEquals(2, c.groupSize());
    assertEquals(1000.0, c.ropeTheta());
    assertEquals(RopeScaling.Type.LINEAR, c.ropeScaling().type());
    float[] inv = c.ropeFrequencies().invFreq();
    assertEquals(16, inv.length);
    assertEquals(0.5f, inv[0]);
  }

  @Test
  void slidingWindowIsReadForMistralAndForQwen2OnlyWhenEnabled() throws IOException {
    assertEquals(128, read("{\"model_type\":\"mistral\"," + BASE + ",\"sliding_window\":128}").slidingWindow());
    assertEquals(0, read("{\"model_type\":\"mistral\"," + BASE + ",\"sliding_window\":null}").slidingWindow());
    assertEquals(0, read("{\"model_type\":\"qwen2\"," + BASE + ",\"sliding_window\":64}").slidingWindow());
    assertEquals(64, read("{\"model_type\":\"qwen2\"," + BASE + ",\"sliding_window\":64,"
        + "\"use_sliding_window\":true}").slidingWindow());
    assertEquals(0, read("{\"model_type\":\"llama\"," + BASE + ",\"sliding_window\":64}").slidingWindow());
    var bad = assertThrows(IllegalArgumentException.class,
        () -> read("{\"model_type\":\"mistral\"," + BASE + ",\"sliding_window\":\"wide\"}"));
    assertTrue(bad.getMessage().contains("sliding_window"), bad.getMessage());
  }

  @Test
  void qwen2HasBiasesAndTiedEmbeddings() throws IOException {
    ModelConfig c = read("{\"model_type\":\"qwen2\"," + BASE + ",\"num_key_value_heads\":1,"
        + "\"tie_word_embeddings\":true,\"rope_theta\":1000000.0}");
    assertTrue(c.attentionBias());
    assertTrue(c.tieWordEmbeddings());
    assertEquals(RopeScaling.Type.DEFAULT, c.ropeScaling().type());
    assertEquals(1e6, c.ropeTheta());
  }

  @Test
  void refusesUnsupportedModelTypeNamingItAndTheSupportedOnes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> read("{\"model_type\":\"gpt2\"," + BASE + "}"));
    assertTrue(e.getMessage().contains("'gpt2'") && e.getMessage().contains("llama, mistral, qwen2")
        && e.getMessage().contains("config.json"), e.getMessage());
  }

  @Test
  void refusesMissingOrMistypedFieldsNamingThem() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> read("{\"model_type\":\"llama\",\"hidden_size\":64}"));
    assertTrue(e.getMessage().contains("num_attention_heads"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> read("{\"model_type\":\"llama\"," + BASE.replace("96", "\"x\"") + "}"));
    assertTrue(e.getMessage().contains("intermediate_size"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> read("{\"model_type\":"));
    assertTrue(e.getMessage().contains("config.json"), e.getMessage());
  }

  @Test
  void refusesGqaThatDoesNotDivide() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> read("{\"model_type\":\"llama\"," + BASE + ",\"num_key_value_heads\":3}"));
    assertTrue(e.getMessage().contains("num_key_value_heads=3"), e.getMessage());
  }
}
