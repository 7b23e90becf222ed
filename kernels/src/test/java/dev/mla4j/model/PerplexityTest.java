package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.io.SafetensorsFile;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

class PerplexityTest {
  @Test
  void windowCountFollowsTheReferenceConvention() {
    assertEquals(414, Perplexity.windows(212480, 512));
    assertEquals(415, Perplexity.windows(212480 + 1, 512), "one following byte frees the last window");
    assertEquals(1, Perplexity.windows(513, 512));
    assertEquals(0, Perplexity.windows(512, 512));
  }

  /**
   * Window NLL of our model over the 128 reference tokens equals the cross entropy computed from
   * Hugging Face's logits for them (reference.safetensors), in double.
   */
  @Test
  void windowNllMatchesCrossEntropyOfReferenceLogits() throws IOException {
    Path dir = SharedModels.require("models/tiny-code-mha");
    try (LlamaWeights w = LlamaWeights.load(dir);
        SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"));
        Backend b = Backends.create(2);
        LlamaModel m = new LlamaModel(w, b, 128)) {
      int[] ids = ref.ints("input_ids");
      Tensor logits = ref.tensor("logits");
      double expected = 0;
      for (int t = 0; t + 1 < ids.length; t++) {
        expected -= Ops.logProb(logits, t, ids[t + 1]);
      }
      double ours = Perplexity.windowNll(m, ids);
      System.out.println("128-token window: NLL " + ours + " vs HF " + expected);
      assertEquals(expected, ours, 1e-5 * ids.length);
    }
  }

  /** The full held-out perplexity of reference.json; minutes on 2 cores, so tagged slow. */
  @Tag("slow")
  @Test
  void fullEvalPerplexityMatchesReferenceJson() throws IOException {
    Path dir = SharedModels.require("models/tiny-code-mha");
    Path eval = SharedModels.require("data/eval.txt");
    int[] tokens = Perplexity.byteTokens(Files.readAllBytes(eval));
    try (LlamaWeights w = LlamaWeights.load(dir);
        Backend b = Backends.create(2);
        LlamaModel m = new LlamaModel(w, b, Perplexity.DEFAULT_WINDOW)) {
      long t0 = System.nanoTime();
      Perplexity.Result r = Perplexity.evaluate(m, tokens, Perplexity.DEFAULT_WINDOW, 0,
          done -> {
            if (done % 50 == 0) {
              System.out.printf("%d windows, %.1f s%n", done, (System.nanoTime() - t0) / 1e9);
            }
          });
      double s = (System.nanoTime() - t0) / 1e9;
      System.out.println("eval.txt: " + r + " in " + s + " s on " + b);
      assertEquals(414, r.windows());
      assertEquals(211554, r.predictions());
      // reference.json, from Hugging Face's float32 model; measured difference 4e-8
      assertEquals(0.7520402685743599, r.meanNll(), 1e-5);
      assertEquals(2.1213236744302355, r.perplexity(), 1e-4);
    }
  }
}
