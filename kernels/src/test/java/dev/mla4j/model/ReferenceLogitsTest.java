package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.io.SafetensorsFile;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The forward pass against Hugging Face transformers' float32 outputs for the tiny reference
 * model (shared/models/tiny-code-mha/reference.safetensors).
 */
class ReferenceLogitsTest {
  /**
   * Allowed max|ours - HF| / max|HF|. Both compute in float32 from the same bf16 weights, so only
   * summation order differs: each of the ~6 layers adds O(ε·sqrt(n)) relative error with
   * n ≤ 1024 (ε = 6e-8, at most about 2e-6 per layer; 6e-7 measured for the logits); 1e-5
   * leaves a margin over that, while a wrong rope pair, norm or scale gives errors of order 1e-2
   * or more.
   */
  static final double TOLERANCE = 1e-5;

  static LlamaWeights weights;
  static SafetensorsFile reference;
  static Backend backend;

  @BeforeAll
  static void load() throws IOException {
    Path dir = SharedModels.require("models/tiny-code-mha");
    weights = LlamaWeights.load(dir);
    reference = SafetensorsFile.open(dir.resolve("reference.safetensors"));
    backend = Backends.create(2);
  }

  @AfterAll
  static void close() {
    if (weights != null) {
      weights.close();
      reference.close();
      backend.close();
    }
  }

  static double relativeError(Tensor ref, Tensor y) {
    double maxDiff = 0;
    double maxRef = 0;
    for (int i = 0; i < ref.rows(); i++) {
      for (int j = 0; j < ref.cols(); j++) {
        float v = y.get(i, j);
        assertTrue(Float.isFinite(v), "non-finite output at " + i + "," + j);
        maxDiff = Math.max(maxDiff, Math.abs(v - ref.get(i, j)));
        maxRef = Math.max(maxRef, Math.abs(ref.get(i, j)));
      }
    }
    return maxDiff / maxRef;
  }

  @Test
  void hiddenStatesAndLogitsMatchTransformers() {
    int[] ids = reference.ints("input_ids");
    assertEquals(128, ids.length);
    Map<Integer, Double> errors = new HashMap<>();
    try (LlamaModel m = new LlamaModel(weights, backend, ids.length)) {
      Tensor logits = m.forward(ids, null, (i, h) -> errors.put(i,
          relativeError(reference.tensor("hidden_states." + i), h)));
      double e = relativeError(reference.tensor("logits"), logits);
      System.out.println("reference check: logits rel error " + e + ", hidden states " + errors
          + " (" + backend + ")");
      assertEquals(weights.config().layers() + 1, errors.size());
      errors.forEach((i, err) -> assertTrue(err <= TOLERANCE,
          "hidden_states." + i + " error " + err));
      assertTrue(e <= TOLERANCE, "logits error " + e);
    }
  }

  @Test
  void decodingOneTokenAtATimeEqualsPrefill() {
    int[] ids = reference.ints("input_ids");
    int n = 48;
    int[] prefix = java.util.Arrays.copyOf(ids, n);
    try (LlamaModel prefill = new LlamaModel(weights, backend, n);
        LlamaModel decode = new LlamaModel(weights, backend, n)) {
      Tensor all = prefill.forward(prefix);
      double worst = 0;
      for (int t = 0; t < n; t++) {
        Tensor one = decode.forward(new int[] {prefix[t]});
        worst = Math.max(worst, relativeError(all.row(t), one));
      }
      System.out.println("decode vs prefill: max rel error " + worst);
      assertEquals(n, decode.length());
      assertTrue(worst <= TOLERANCE, "decode vs prefill error " + worst);
    }
  }
}
