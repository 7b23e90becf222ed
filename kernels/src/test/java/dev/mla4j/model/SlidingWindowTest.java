package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Mistral-style sliding window: the tiny model relabelled as mistral with a window of 8 tokens
 * (its safetensors linked, not copied) gives the llama logits up to the window and refuses to go
 * past it instead of silently attending to the whole sequence.
 */
class SlidingWindowTest {
  private static final int WINDOW = 8;

  @TempDir Path dir;

  @Test
  void withinTheWindowIsFullAttentionAndPastItIsRefused() throws IOException {
    Path tiny = SharedModels.require("models/tiny-code-mha");
    String config = Files.readString(tiny.resolve("config.json"))
        .replace("\"model_type\": \"llama\"", "\"model_type\": \"mistral\", \"sliding_window\": " + WINDOW);
    assertTrue(config.contains("sliding_window"), "config.json of tiny-code-mha changed its layout");
    Files.writeString(dir.resolve("config.json"), config);
    try (var files = Files.list(tiny)) {
      for (Path p : files.filter(p -> p.getFileName().toString().startsWith("model")).toList()) {
        Files.createSymbolicLink(dir.resolve(p.getFileName()), p.toAbsolutePath());
      }
    }
    int[] ids = new int[WINDOW + 1];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = "def f(x):\n".charAt(i);
    }
    int[] inside = java.util.Arrays.copyOf(ids, WINDOW);
    try (Backend b = Backends.create(2);
        LlamaWeights llama = LlamaWeights.load(tiny);
        LlamaWeights mistral = LlamaWeights.load(dir);
        LlamaModel full = new LlamaModel(llama, b, 16, DType.F32, null);
        LlamaModel windowed = new LlamaModel(mistral, b, 16, DType.F32, null)) {
      // same weights and kernels; only the summation order of threaded GEMMs may differ
      assertArrayEquals(full.forward(inside).toFloatArray(), windowed.forward(inside).toFloatArray(), 1e-4f);
      var e = assertThrows(IllegalArgumentException.class, () -> windowed.forward(new int[] {ids[WINDOW]}));
      assertTrue(e.getMessage().contains("sliding_window=" + WINDOW), e.getMessage());
      windowed.reset();
      assertThrows(IllegalArgumentException.class, () -> windowed.forward(ids));
    }
  }
}
