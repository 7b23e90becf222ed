package dev.mla4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mla4j.io.AtomicFiles;
import dev.mla4j.io.Checkpoint;
import dev.mla4j.io.SafetensorsWriter;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * mla4j's converted-model checkpoint: a folder with the original {@code config.json}, one
 * {@code model.safetensors} and {@value #CONFIG}.
 *
 * <p>{@code model.safetensors} holds the original non-attention tensors under their Hugging Face
 * names and, per layer {@code model.layers.N.self_attn.}: {@code q_rope_proj} {@code [n_h·d_r][d]},
 * {@code q_nope_proj} {@code [n_h·d_nope][d]}, {@code k_rope_proj} {@code [n_kv·d_r][d]},
 * {@code kv_down_proj} {@code [L][d]}, {@code k_up_proj} {@code [n_kv·d_nope][L]},
 * {@code v_up_proj} {@code [n_kv·d_h][L]}, {@code o_proj} {@code [d][n_h·d_h]} ({@code .weight},
 * and {@code .bias} where the model has biases). Row orders are those of
 * {@link MlaAttentionWeights}.
 *
 * <p>{@value #CONFIG}: {@code format} ({@value #FORMAT}), {@code version}, {@code r},
 * {@code d_kv}, {@code latent_dim} (L), {@code rope_dim} (d_r), {@code rope_layout}
 * ({@code half-split}), {@code softmax_scale} (1/sqrt(d_h)), {@code strategy}, {@code svd},
 * {@code sigma_placement}, {@code low_rank_objective} ({@code weights}, {@code kv} or
 * {@code attention}; files without it: {@code kv} if {@code activation_aware}, else
 * {@code weights}), {@code activation_aware} (objective other than weights) and {@code kept_pairs}
 * {@code [layer][kv head][r]} (ascending pair indices i of θ_i).
 */
public final class MlaCheckpoint implements AutoCloseable {
  public static final String CONFIG = "mla_config.json";
  public static final String FORMAT = "mla4j-mha2mla";
  private static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final LlamaWeights base;
  private final MlaConfig config;
  private final MlaAttentionWeights[] layers;
  private final String objective;

  MlaCheckpoint(LlamaWeights base, MlaConfig config, MlaAttentionWeights[] layers,
      String objective) {
    this.base = base;
    this.config = config;
    this.layers = layers;
    this.objective = objective;
  }

  /**
   * Writes a converted model into {@code folder} (created if needed). Refuses a folder that holds
   * the source checkpoint, so nothing already on disk is written over.
   *
   * @param objective what the low rank minimised: {@code weights}, {@code kv} or {@code attention}
   */
  public static void save(Path folder, LlamaWeights source, MlaConfig config,
      MlaAttentionWeights[] layers, String objective) throws IOException {
    Path dst = outputFolder(folder, source);
    Path src = source.checkpoint().folder().toAbsolutePath().normalize();
    SafetensorsWriter out = new SafetensorsWriter();
    addOriginalTensors(out, source, (p, l) -> addAttention(out, p, layers[l]));
    out.metadata("format", "pt");
    out.write(dst.resolve(Checkpoint.SINGLE));
    Path hfConfig = dst.resolve("config.json");
    Path tmp = AtomicFiles.temporaryFor(hfConfig);
    Files.copy(src.resolve("config.json"), tmp, StandardCopyOption.REPLACE_EXISTING);
    AtomicFiles.publish(tmp, hfConfig);
    writeConfig(dst.resolve(CONFIG), config, layers, objective);
  }

  /**
   * Adds the source's embedding, norms, MLP and LM head under their Hugging Face names, and lets
   * {@code attention} add each layer's attention tensors under prefix
   * {@code model.layers.N.self_attn.}.
   */
  static void addOriginalTensors(SafetensorsWriter out, LlamaWeights source,
      java.util.function.ObjIntConsumer<String> attention) {
    ModelConfig c = source.config();
    out.add("model.embed_tokens.weight", source.embedding());
    for (int l = 0; l < c.layers(); l++) {
      String p = "model.layers." + l + ".";
      LayerWeights w = source.layer(l);
      out.add(p + "input_layernorm.weight", w.inputNorm(), c.hiddenSize());
      out.add(p + "post_attention_layernorm.weight", w.postNorm(), c.hiddenSize());
      out.add(p + "mlp.gate_proj.weight", w.wGate());
      out.add(p + "mlp.up_proj.weight", w.wUp());
      out.add(p + "mlp.down_proj.weight", w.wDown());
      attention.accept(p + "self_attn.", l);
    }
    out.add("model.norm.weight", source.finalNorm(), c.hiddenSize());
    if (!c.tieWordEmbeddings()) {
      out.add("lm_head.weight", source.lmHead());
    }
  }

  private static void addAttention(SafetensorsWriter out, String p, MlaAttentionWeights a) {
    addLinear(out, p + "q_rope_proj", a.wqRope(), a.bqRope());
    addLinear(out, p + "q_nope_proj", a.wqNope(), a.bqNope());
    addLinear(out, p + "k_rope_proj", a.wKr(), a.bKr());
    addLinear(out, p + "kv_down_proj", a.wDkv(), null);
    addLinear(out, p + "k_up_proj", a.wUk(), a.bUk());
    addLinear(out, p + "v_up_proj", a.wUv(), a.bUv());
    addLinear(out, p + "o_proj", a.wo(), null);
  }

  static void addLinear(SafetensorsWriter out, String name, Tensor w, Tensor b) {
    out.add(name + ".weight", w);
    if (b != null) {
      out.add(name + ".bias", b, b.cols());
    }
  }

  /** Checks that {@code folder} is not the source checkpoint's folder, then creates it. */
  static Path outputFolder(Path folder, LlamaWeights source) throws IOException {
    Path src = source.checkpoint().folder().toAbsolutePath().normalize();
    Path dst = folder.toAbsolutePath().normalize();
    if (dst.equals(src)) {
      throw new IllegalArgumentException("output folder " + dst + " is the source checkpoint's"
          + " folder; choose another one");
    }
    Files.createDirectories(dst);
    return dst;
  }

  private static void writeConfig(Path file, MlaConfig c, MlaAttentionWeights[] layers,
      String objective) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("version", VERSION);
    root.put("r", c.r());
    root.put("d_kv", c.dKv());
    root.put("latent_dim", layers[0].wDkv().rows());
    root.put("rope_dim", 2 * c.r());
    root.put("rope_layout", "half-split");
    root.put("softmax_scale", 1 / Math.sqrt(c.base().headDim()));
    root.put("strategy", c.strategy());
    root.put("svd", c.svdMethod());
    root.put("sigma_placement", c.sigmaPlacement());
    root.put("low_rank_objective", objective);
    root.put("activation_aware", !objective.equals("weights"));
    ArrayNode kept = root.putArray("kept_pairs");
    for (MlaAttentionWeights l : layers) {
      ArrayNode heads = kept.addArray();
      for (int[] pairs : l.keptPairs()) {
        ArrayNode h = heads.addArray();
        for (int i : pairs) {
          h.add(i);
        }
      }
    }
    Path tmp = AtomicFiles.temporaryFor(file);
    JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
    AtomicFiles.publish(tmp, file);
  }

  /** Whether {@code folder} holds an mla4j MLA checkpoint. */
  public static boolean isMlaCheckpoint(Path folder) {
    return Files.isRegularFile(folder.resolve(CONFIG));
  }

  /** Loads a folder written by {@link #save}; tensors are views of the mapped file. */
  public static MlaCheckpoint load(Path folder) throws IOException {
    Path file = folder.resolve(CONFIG);
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IOException(file + ": not readable JSON (" + e.getMessage() + ")", e);
    }
    if (root == null || !FORMAT.equals(root.path("format").asText())) {
      throw new IllegalArgumentException(file + ": field 'format' must be '" + FORMAT + "'");
    }
    if (root.path("version").asInt(-1) != VERSION) {
      throw new IllegalArgumentException(file + ": unsupported version "
          + root.path("version") + " (this build reads version " + VERSION + ")");
    }
    LlamaWeights base = LlamaWeights.loadWithoutAttention(folder);
    try {
      ModelConfig c = base.config();
      MlaConfig config = new MlaConfig(c, required(root, file, "r").asInt(),
          required(root, file, "d_kv").asInt(), root.path("strategy").asText(),
          root.path("svd").asText(), root.path("sigma_placement").asText());
      JsonNode kept = required(root, file, "kept_pairs");
      if (kept.size() != c.layers()) {
        throw new IllegalArgumentException(file + ": kept_pairs has " + kept.size()
            + " layers, config.json has " + c.layers());
      }
      MlaAttentionWeights[] layers = new MlaAttentionWeights[c.layers()];
      for (int l = 0; l < layers.length; l++) {
        layers[l] = readAttention(base.checkpoint(), "model.layers." + l + ".self_attn.",
            keptPairs(kept.get(l), file, l, config.r()), c.attentionBias());
      }
      String legacy = root.path("activation_aware").asBoolean(false) ? "kv" : "weights";
      return new MlaCheckpoint(base, config, layers,
          root.path("low_rank_objective").asText(legacy));
    } catch (RuntimeException e) {
      base.close();
      throw e;
    }
  }

  private static JsonNode required(JsonNode root, Path file, String field) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      throw new IllegalArgumentException(file + ": missing field '" + field + "'");
    }
    return n;
  }

  private static int[][] keptPairs(JsonNode layer, Path file, int l, int r) {
    int[][] out = new int[layer.size()][];
    for (int j = 0; j < out.length; j++) {
      JsonNode h = layer.get(j);
      if (h.size() != r) {
        throw new IllegalArgumentException(file + ": kept_pairs[" + l + "][" + j + "] has "
            + h.size() + " pairs, r is " + r);
      }
      out[j] = new int[r];
      for (int m = 0; m < r; m++) {
        out[j][m] = h.get(m).asInt();
      }
    }
    return out;
  }

  private static MlaAttentionWeights readAttention(Checkpoint ck, String p, int[][] kept,
      boolean bias) {
    return new MlaAttentionWeights(kept,
        ck.tensor(p + "q_rope_proj.weight"), bias ? ck.tensor(p + "q_rope_proj.bias") : null,
        ck.tensor(p + "q_nope_proj.weight"), bias ? ck.tensor(p + "q_nope_proj.bias") : null,
        ck.tensor(p + "k_rope_proj.weight"), bias ? ck.tensor(p + "k_rope_proj.bias") : null,
        ck.tensor(p + "kv_down_proj.weight"),
        ck.tensor(p + "k_up_proj.weight"), bias ? ck.tensor(p + "k_up_proj.bias") : null,
        ck.tensor(p + "v_up_proj.weight"), ck.tensorOrNull(p + "v_up_proj.bias"),
        ck.tensor(p + "o_proj.weight"));
  }

  /** The original model's non-attention weights (attention() of its layers is null). */
  public LlamaWeights base() {
    return base;
  }

  public MlaConfig config() {
    return config;
  }

  public MlaAttentionWeights[] layers() {
    return layers.clone();
  }

  /** What the low rank minimised: {@code weights}, {@code kv}, {@code attention}, or {@code unknown} (loaded from the reference layout, which does not record it). */
  public String lowRankObjective() {
    return objective;
  }

  @Override
  public void close() {
    base.close();
  }
}
