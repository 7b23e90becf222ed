package dev.mla4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mla4j.io.AtomicFiles;
import dev.mla4j.io.Checkpoint;
import dev.mla4j.io.SafetensorsFile;
import dev.mla4j.io.SafetensorsWriter;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A converted model in the layout of the reference MHA2MLA training code (spec 10 item 9; its
 * current {@code patching_model_load}), so it can be fine-tuned in PyTorch and read back here.
 * Per layer {@code model.layers.N.self_attn.}: {@code q_proj} with its rows reordered (all heads'
 * rope rows, then all NoPE rows), {@code k_r_proj}, {@code kv_proj.down_kv}, {@code
 * kv_proj.up_k}, {@code kv_proj.up_v}, {@code o_proj}; no {@code k_proj}/{@code v_proj}.
 * {@code config.json} is the original plus an {@code mha2mla} block ({@code partial_rope_version},
 * {@code rope_dim_for_mla} = d_r, {@code low_rank} = d_kv, {@code svd_init_method} = joint,
 * {@code qk_tensor_path}). The kept pairs travel as {@value #RANK_FILE}, tensor {@code rank}
 * {@code [layers][n_kv][d_h]} F32 holding each dim's pair rank (kept pairs 0..r-1, both halves
 * of a pair alike); the reference code reads a uint8 {@code .pth} of the same tensor:
 * {@code torch.save(load_file(path)["rank"].to(torch.uint8), "rank.pth")}.
 */
public final class ReferenceLayout {
  public static final String RANK_FILE = "mha2mla_rank.safetensors";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Why a model with a value bias cannot go out for a {@code model_type} without attention
   * biases: the reference code builds up_v without a bias there and would drop it silently.
   */
  public static final String VALUE_BIAS_REFUSAL = "the converted model has a value bias (the "
      + "activation-aware attention objective carries the mean input in it) but the source model "
      + "has no attention biases, so the reference code's up_v has none and would drop it; for a "
      + "reference export convert weight-only or with --aware-objective kv";

  private ReferenceLayout() {}

  /** Writes {@code layers} (SVD_joint only: the reference has one down_kv) into {@code folder}. */
  public static void export(Path folder, LlamaWeights source, MlaConfig config,
      MlaAttentionWeights[] layers) throws IOException {
    if (!"joint".equals(config.svdMethod())) {
      throw new IllegalArgumentException("the reference-code export supports SVD_joint models; "
          + "this one was converted with svd=" + config.svdMethod());
    }
    ModelConfig c = source.config();
    if (!c.attentionBias() && java.util.Arrays.stream(layers).anyMatch(a -> a.bUv() != null)) {
      throw new IllegalArgumentException(VALUE_BIAS_REFUSAL);
    }
    Path dst = MlaCheckpoint.outputFolder(folder, source);
    try (Arena arena = Arena.ofConfined()) {
      SafetensorsWriter out = new SafetensorsWriter();
      MlaCheckpoint.addOriginalTensors(out, source, (p, l) -> {
        MlaAttentionWeights a = layers[l];
        MlaCheckpoint.addLinear(out, p + "q_proj", stack(arena, a.wqRope(), a.wqNope()),
            a.bqRope() == null ? null : join(arena, a.bqRope(), a.bqNope()));
        MlaCheckpoint.addLinear(out, p + "k_r_proj", a.wKr(), a.bKr());
        MlaCheckpoint.addLinear(out, p + "kv_proj.down_kv", a.wDkv(), null);
        MlaCheckpoint.addLinear(out, p + "kv_proj.up_k", a.wUk(), a.bUk());
        MlaCheckpoint.addLinear(out, p + "kv_proj.up_v", a.wUv(), a.bUv());
        MlaCheckpoint.addLinear(out, p + "o_proj", a.wo(), null);
      });
      out.metadata("format", "pt");
      out.write(dst.resolve(Checkpoint.SINGLE));
      Tensor rank = ranks(arena, c, layers);
      new SafetensorsWriter().add("rank", rank, c.layers(), c.kvHeads(), c.headDim())
          .write(dst.resolve(RANK_FILE));
    }
    ObjectNode root = (ObjectNode) JSON.readTree(
        source.checkpoint().folder().resolve("config.json").toFile());
    ObjectNode m = root.putObject("mha2mla");
    m.put("partial_rope_version", config.strategy());
    m.put("rope_dim_for_mla", 2 * config.r());
    m.put("uniform_start_point", 0);
    m.put("qk_tensor_path", RANK_FILE);
    m.put("low_rank", config.dKv());
    m.put("svd_init_method", "joint");
    m.put("is_gqa2mha2mla", false);
    Path file = dst.resolve("config.json");
    Path tmp = AtomicFiles.temporaryFor(file);
    JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
    AtomicFiles.publish(tmp, file);
  }

  /** Reads a folder in the reference layout (as written by {@link #export}, or after training). */
  public static MlaCheckpoint load(Path folder) throws IOException {
    JsonNode m = JSON.readTree(folder.resolve("config.json").toFile()).get("mha2mla");
    if (m == null) {
      throw new IllegalArgumentException(folder.resolve("config.json")
          + ": no 'mha2mla' block, so not a checkpoint in the reference MHA2MLA layout");
    }
    if (!"joint".equals(m.path("svd_init_method").asText())) {
      throw new IllegalArgumentException(folder + ": svd_init_method '"
          + m.path("svd_init_method").asText() + "' is not supported (joint only)");
    }
    int r = m.path("rope_dim_for_mla").asInt() / 2;
    LlamaWeights base = LlamaWeights.loadWithoutAttention(folder);
    try (SafetensorsFile rankFile = SafetensorsFile.open(
        folder.resolve(m.path("qk_tensor_path").asText(RANK_FILE)))) {
      ModelConfig c = base.config();
      MlaConfig config = new MlaConfig(c, r, m.path("low_rank").asInt(),
          m.path("partial_rope_version").asText(), "joint", "unknown");
      Tensor rank = rankFile.tensor("rank");
      Checkpoint ck = base.checkpoint();
      int nope = c.headDim() - 2 * r;
      MlaAttentionWeights[] layers = new MlaAttentionWeights[c.layers()];
      for (int l = 0; l < layers.length; l++) {
        String p = "model.layers." + l + ".self_attn.";
        Tensor q = ck.tensor(p + "q_proj.weight");
        Tensor qb = c.attentionBias() ? ck.tensor(p + "q_proj.bias") : null;
        int ropeRows = c.heads() * 2 * r;
        layers[l] = new MlaAttentionWeights(kept(rank, l, c, r, folder),
            q.rows(0, ropeRows), qb == null ? null : qb.cols(0, ropeRows),
            q.rows(ropeRows, c.heads() * nope), qb == null ? null : qb.cols(ropeRows,
                c.heads() * nope),
            ck.tensor(p + "k_r_proj.weight"), c.attentionBias() ? ck.tensor(p + "k_r_proj.bias") : null,
            ck.tensor(p + "kv_proj.down_kv.weight"),
            ck.tensor(p + "kv_proj.up_k.weight"), c.attentionBias() ? ck.tensor(p + "kv_proj.up_k.bias") : null,
            ck.tensor(p + "kv_proj.up_v.weight"), c.attentionBias() ? ck.tensor(p + "kv_proj.up_v.bias") : null,
            ck.tensor(p + "o_proj.weight"));
      }
      return new MlaCheckpoint(base, config, layers, "unknown");
    } catch (RuntimeException | IOException e) {
      base.close();
      throw e;
    }
  }

  /** Rows of {@code a} then rows of {@code b}, copied into one new tensor. */
  private static Tensor stack(Arena arena, Tensor a, Tensor b) {
    Tensor out = Tensor.allocate(arena, a.dtype(), a.rows() + b.rows(), a.cols());
    copyRows(a, out, 0);
    copyRows(b, out, a.rows());
    return out;
  }

  /** One-row tensors {@code a} and {@code b} (biases) side by side in a new {@code [1][a+b]}. */
  private static Tensor join(Arena arena, Tensor a, Tensor b) {
    Tensor out = Tensor.allocate(arena, a.dtype(), 1, a.cols() + b.cols());
    copyRows(a, out.cols(0, a.cols()), 0);
    copyRows(b, out.cols(a.cols(), b.cols()), 0);
    return out;
  }

  private static void copyRows(Tensor src, Tensor dst, int at) {
    if (src.dtype() != dst.dtype() || src.cols() != dst.cols()) {
      throw new IllegalArgumentException("cannot stack " + src.shape() + " under " + dst.shape());
    }
    long rowBytes = (long) src.cols() * src.dtype().bytes();
    for (int i = 0; i < src.rows(); i++) {
      MemorySegment.copy(src.data(), src.offset(i, 0), dst.data(), dst.offset(at + i, 0), rowBytes);
    }
  }

  /** Each dim's pair rank: kept pairs 0..r-1 in ascending order, the others r.. after them. */
  private static Tensor ranks(Arena arena, ModelConfig c, MlaAttentionWeights[] layers) {
    int f = c.headDim() / 2;
    Tensor t = Tensor.allocate(arena, DType.F32, c.layers() * c.kvHeads(), c.headDim());
    for (int l = 0; l < layers.length; l++) {
      for (int j = 0; j < c.kvHeads(); j++) {
        int[] kept = layers[l].keptPairs()[j];
        boolean[] isKept = new boolean[f];
        for (int m = 0; m < kept.length; m++) {
          isKept[kept[m]] = true;
          t.set(l * c.kvHeads() + j, kept[m], m);
          t.set(l * c.kvHeads() + j, kept[m] + f, m);
        }
        int next = kept.length;
        for (int i = 0; i < f; i++) {
          if (!isKept[i]) {
            t.set(l * c.kvHeads() + j, i, next);
            t.set(l * c.kvHeads() + j, i + f, next++);
          }
        }
      }
    }
    return t;
  }

  private static int[][] kept(Tensor rank, int l, ModelConfig c, int r, Path folder) {
    int f = c.headDim() / 2;
    if (rank.rows() * rank.cols() != c.layers() * c.kvHeads() * c.headDim()) {
      throw new IllegalArgumentException(folder.resolve(RANK_FILE) + ": rank tensor "
          + rank.shape() + " is not [layers][n_kv][d_h] of this model");
    }
    Tensor flat = rank.splitRows(c.headDim());
    int[][] out = new int[c.kvHeads()][r];
    for (int j = 0; j < c.kvHeads(); j++) {
      int n = 0;
      for (int i = 0; i < f; i++) {
        if (flat.get(l * c.kvHeads() + j, i) < r) {
          if (n == r) {
            throw new IllegalArgumentException(folder.resolve(RANK_FILE) + ": layer " + l
                + " kv head " + j + " has more than r=" + r + " pairs ranked below r");
          }
          out[j][n++] = i;
        }
      }
      if (n != r) {
        throw new IllegalArgumentException(folder.resolve(RANK_FILE) + ": layer " + l
            + " kv head " + j + " has " + n + " pairs ranked below r=" + r);
      }
    }
    return out;
  }
}
