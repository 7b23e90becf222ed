package dev.mla4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.convert.MlaConverter;
import dev.mla4j.convert.PairSelection;
import dev.mla4j.io.SafetensorsFile;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * tiny-code-mha converted at full rank with every RoPE pair kept (so nothing is approximated)
 * reproduces Hugging Face's float32 reference logits through the MLA forward pass.
 */
class FullRankConversionTest {

  @Test
  void fullRankJointConversionReproducesTheReferenceLogits() throws Exception {
    Path dir = SharedModels.require("models/tiny-code-mha");
    try (Backend b = Backends.create(2); LlamaWeights w = LlamaWeights.load(dir);
        SafetensorsFile reference = SafetensorsFile.open(dir.resolve("reference.safetensors"));
        Arena arena = Arena.ofShared()) {
      ModelConfig c = w.config();
      int pairs = c.headDim() / 2;
      int[][][] kept = PairSelection.select(PairSelection.Strategy.HIGH, c.layers(), c.heads(),
          c.kvHeads(), c.headDim(), pairs, null);
      // every pair kept: d_nope = 0, so [W_k,nope; W_v] = W_v and full rank is L = n_kv·d_h
      MlaAttentionWeights[] layers = MlaConverter.convertModel(b, c,
          l -> w.layer(l).attention(), kept, MlaConverter.Options.joint(c.headDim()), null,
          l -> { }, arena);
      int[] ids = reference.ints("input_ids");
      try (MlaModel m = new MlaModel(w, layers, b, ids.length, DType.F32)) {
        Tensor logits = m.forward(ids);
        double error = ReferenceLogitsTest.relativeError(reference.tensor("logits"), logits);
        assertTrue(error < ReferenceLogitsTest.TOLERANCE,
            "full-rank MLA logits vs Hugging Face: relative error " + error);
      }
    }
  }
}
