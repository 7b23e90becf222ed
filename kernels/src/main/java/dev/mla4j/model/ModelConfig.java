package dev.mla4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mla4j.rope.RopeFrequencies;
import dev.mla4j.rope.RopeScaling;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A Hugging Face decoder-only config ({@code config.json}) of a supported architecture.
 *
 * <p>Sliding-window attention (Mistral's {@code sliding_window}; Qwen2's when
 * {@code use_sliding_window} is true) is exact while a sequence is no longer than the window,
 * where it equals full causal attention; the forward pass refuses longer sequences
 * ({@link DecoderModel}) rather than attend past the window, because the kernels have no
 * per-query lower bound yet.
 *
 * @param slidingWindow attention window in tokens, 0 for none
 * @param hiddenSize d
 * @param heads n_h
 * @param kvHeads n_kv
 * @param headDim d_h
 * @param attentionBias q/k/v projections have biases (qwen2)
 */
public record ModelConfig(String modelType, int hiddenSize, int layers, int heads, int kvHeads,
    int headDim, int intermediateSize, int vocabSize, double rmsNormEps, double ropeTheta,
    RopeScaling ropeScaling, boolean attentionBias, boolean tieWordEmbeddings,
    int maxPositions, int slidingWindow) {

  public static final List<String> SUPPORTED = List.of("llama", "mistral", "qwen2");

  public ModelConfig {
    if (hiddenSize <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0
        || intermediateSize <= 0 || vocabSize <= 0) {
      throw new IllegalArgumentException("model dimensions must be positive: " + sizes(
          hiddenSize, layers, heads, kvHeads, headDim, intermediateSize, vocabSize));
    }
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException("num_attention_heads=" + heads
          + " is not a multiple of num_key_value_heads=" + kvHeads);
    }
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("head_dim must be even for RoPE, got " + headDim);
    }
    if (slidingWindow < 0) {
      throw new IllegalArgumentException("sliding_window must be positive, got " + slidingWindow);
    }
  }

  private static String sizes(int d, int l, int h, int kv, int dh, int ffn, int v) {
    return "hidden_size=" + d + " num_hidden_layers=" + l + " num_attention_heads=" + h
        + " num_key_value_heads=" + kv + " head_dim=" + dh + " intermediate_size=" + ffn
        + " vocab_size=" + v;
  }

  /** Heads per kv head (GQA group size). */
  public int groupSize() {
    return heads / kvHeads;
  }

  /** RoPE inverse frequencies of the d_h/2 pairs, after scaling. */
  public RopeFrequencies ropeFrequencies() {
    return RopeFrequencies.of(headDim, ropeTheta, ropeScaling);
  }

  /**
   * Reads {@code config.json}. RoPE settings may be top-level ({@code rope_theta},
   * {@code rope_scaling}) or in the newer {@code rope_parameters} object.
   *
   * @throws IllegalArgumentException naming the file and the field on unreadable or unsupported
   *     input
   */
  public static ModelConfig read(Path configJson) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(configJson.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(configJson + ": cannot read config: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException(configJson + ": config is not a JSON object");
    }
    try {
      return parse(root);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(configJson + ": " + e.getMessage(), e);
    }
  }

  static ModelConfig parse(JsonNode root) {
    String type = text(root, "model_type", null);
    if (type == null || !SUPPORTED.contains(type)) {
      throw new IllegalArgumentException("unsupported model_type '" + type + "' (supported: "
          + String.join(", ", SUPPORTED) + ")");
    }
    String act = text(root, "hidden_act", "silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException("hidden_act '" + act + "' not supported (only silu)");
    }
    if (root.path("mlp_bias").asBoolean(false)) {
      throw new IllegalArgumentException("mlp_bias=true not supported");
    }
    boolean qwen = type.equals("qwen2");
    // Llama's attention_bias also adds an o_proj bias, which the weights records do not carry.
    if (!qwen && root.path("attention_bias").asBoolean(false)) {
      throw new IllegalArgumentException("attention_bias=true (with o_proj bias) not supported for "
          + type);
    }
    int d = integer(root, "hidden_size", -1);
    int heads = integer(root, "num_attention_heads", -1);
    int kvHeads = integer(root, "num_key_value_heads", heads);
    JsonNode hd = root.get("head_dim");
    int headDim = hd == null || hd.isNull() ? (heads > 0 ? d / heads : -1)
        : integer(root, "head_dim", -1);
    if ((hd == null || hd.isNull()) && heads > 0 && d % heads != 0) {
      throw new IllegalArgumentException("no head_dim and hidden_size=" + d
          + " is not a multiple of num_attention_heads=" + heads);
    }
    int maxPositions = integer(root, "max_position_embeddings", 2048);
    JsonNode params = root.get("rope_parameters");
    JsonNode ropeNode = params != null && !params.isNull() ? params : root.get("rope_scaling");
    double theta = number(params != null && !params.isNull() && params.has("rope_theta")
        ? params : root, "rope_theta", 10000.0);
    double partial = number(params != null && !params.isNull() && params.has("partial_rotary_factor")
        ? params : root, "partial_rotary_factor", 1.0);
    if (partial != 1.0) {
      throw new IllegalArgumentException("partial_rotary_factor=" + partial + " not supported");
    }
    return new ModelConfig(type, d, integer(root, "num_hidden_layers", -1), heads, kvHeads,
        headDim, integer(root, "intermediate_size", -1), integer(root, "vocab_size", -1),
        number(root, "rms_norm_eps", 1e-6), theta, scaling(ropeNode, maxPositions), qwen,
        root.path("tie_word_embeddings").asBoolean(false), maxPositions, slidingWindow(root, type));
  }

  /** Mistral: {@code sliding_window} (null = none); Qwen2: only with {@code use_sliding_window}. */
  private static int slidingWindow(JsonNode root, String type) {
    JsonNode w = root.get("sliding_window");
    boolean used = switch (type) {
      case "mistral" -> true;
      case "qwen2" -> root.path("use_sliding_window").asBoolean(false);
      default -> false;
    };
    if (!used || w == null || w.isNull()) {
      return 0;
    }
    if (!w.canConvertToInt() || w.asInt() <= 0) {
      throw new IllegalArgumentException("sliding_window must be a positive integer or null, got " + w);
    }
    return w.asInt();
  }

  /** Parses a {@code rope_scaling} or {@code rope_parameters} object; null means none. */
  private static RopeScaling scaling(JsonNode n, int maxPositions) {
    if (n == null || n.isNull()) {
      return RopeScaling.none();
    }
    if (!n.isObject()) {
      throw new IllegalArgumentException("rope_scaling/rope_parameters must be an object");
    }
    String name = text(n, "rope_type", text(n, "type", "default"));
    RopeScaling.Type type = RopeScaling.Type.parse(name);
    if (type == RopeScaling.Type.DEFAULT) {
      return RopeScaling.none();
    }
    int original = integer(n, "original_max_position_embeddings",
        type == RopeScaling.Type.YARN ? maxPositions : 0);
    return new RopeScaling(type, number(n, "factor", Double.NaN), original,
        number(n, "low_freq_factor", 1), number(n, "high_freq_factor", 4),
        number(n, "beta_fast", 32), number(n, "beta_slow", 1), number(n, "mscale", 0),
        number(n, "mscale_all_dim", 0), number(n, "attention_factor", Double.NaN),
        n.path("truncate").asBoolean(true));
  }

  private static String text(JsonNode n, String field, String fallback) {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException("field '" + field + "' must be a string, is " + v);
    }
    return v.asText();
  }

  /** An integer field; {@code fallback < 0} means required. */
  private static int integer(JsonNode n, String field, int fallback) {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      if (fallback < 0) {
        throw new IllegalArgumentException("missing field '" + field + "'");
      }
      return fallback;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt()) {
      throw new IllegalArgumentException("field '" + field + "' must be an integer, is " + v);
    }
    return v.intValue();
  }

  private static double number(JsonNode n, String field, double fallback) {
    JsonNode v = n.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException("field '" + field + "' must be a number, is " + v);
    }
    return v.doubleValue();
  }
}
