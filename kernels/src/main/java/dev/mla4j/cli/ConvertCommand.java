package dev.mla4j.cli;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.convert.ActivationAwareOptions;
import dev.mla4j.convert.AwareObjective;
import dev.mla4j.convert.Calibration;
import dev.mla4j.convert.InputMoments;
import dev.mla4j.convert.MlaConverter;
import dev.mla4j.convert.PairNormStats;
import dev.mla4j.convert.PairSelection;
import dev.mla4j.convert.SigmaPlacement;
import dev.mla4j.model.AttentionInputListener;
import dev.mla4j.model.LlamaModel;
import dev.mla4j.model.LlamaWeights;
import dev.mla4j.model.MlaAttentionWeights;
import dev.mla4j.model.MlaCheckpoint;
import dev.mla4j.model.MlaConfig;
import dev.mla4j.model.ModelConfig;
import dev.mla4j.model.ReferenceLayout;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mla4j convert}: a Hugging Face checkpoint to an mla4j MLA checkpoint (spec 3.7):
 * calibration where the options need it, partial-RoPE pair selection, low-rank factorization.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
    description = "Convert an MHA/GQA checkpoint (llama, mistral, qwen2) to MLA (MHA2MLA).")
final class ConvertCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "source checkpoint folder")
  Path model;

  @Option(names = "--out", required = true, description = "output folder (not the source)")
  Path out;

  @Option(names = "--strategy", defaultValue = "2-norm",
      description = "kept RoPE pairs: high, low, uniform, 2-norm (product score) or 2-norm-sum")
  String strategy;

  @Option(names = "--r", description = "kept pairs per head (default d_h/16)")
  Integer r;

  @Option(names = "--d-kv", defaultValue = "16", description = "latent width per kv head")
  int dKv;

  @Option(names = "--svd", defaultValue = "joint", description = "none, joint or split")
  String svd;

  @Option(names = "--split-width", defaultValue = "paper",
      description = "SVD_split latent per side: paper (d_kv/2) or code (d_kv, cache 2x)")
  String splitWidth;

  @Option(names = "--sigma", defaultValue = "auto",
      description = "singular values: up (reference code), sqrt (paper, sqrt on both factors) or "
          + "auto: sqrt with --activation-aware, up without (the placement with the lower int4 "
          + "cache error for each, README 'Quantized caches')")
  String sigma;

  @Option(names = "--activation-aware",
      description = "minimise the error on calibration inputs instead of the weight error")
  boolean activationAware;

  @Option(names = "--aware-objective", defaultValue = "attention",
      description = "what --activation-aware minimises: attention (key errors weighted by the "
          + "queries, value errors by W_o) or kv (spec 9.2: raw key and value error)")
  String awareObjective;

  @Option(names = "--damping", defaultValue = "0",
      description = "activation-aware: added to the input moments' eigenvalues, relative to "
          + "their mean (0: none; large: towards weight-only)")
  double damping;

  @Option(names = "--key-weight", defaultValue = "1",
      description = "activation-aware attention objective: factor on the key-error weights")
  double keyWeight;

  @Option(names = "--calib", description = "calibration text/token file (2-norm, activation-aware)")
  Path calib;

  @Option(names = "--tokens", defaultValue = "bytes", description = "bytes or u32 (see eval)")
  String tokens;

  @Option(names = "--calib-window", defaultValue = "512", description = "calibration window")
  int calibWindow;

  @Option(names = "--calib-windows", defaultValue = "0",
      description = "at most this many calibration windows (0: all)")
  int calibWindows;

  @Option(names = "--weights", defaultValue = "F32", description = "converted weight storage: F32 or BF16")
  DType weights;

  @Option(names = "--export-reference",
      description = "also write the model in the reference MHA2MLA training code's layout here")
  Path exportReference;

  @Option(names = "--threads", description = "CPU threads (default: all processors)")
  Integer threads;

  @Override
  public Integer call() throws Exception {
    PairSelection.Strategy select = PairSelection.Strategy.parse(strategy);
    MlaConverter.SvdMethod method = enumOption(MlaConverter.SvdMethod.class, "--svd", svd);
    SigmaPlacement placement = sigma.equalsIgnoreCase("auto")
        ? (activationAware ? SigmaPlacement.SQRT_BOTH : SigmaPlacement.UP)
        : sigma.equalsIgnoreCase("sqrt") ? SigmaPlacement.SQRT_BOTH
        : enumOption(SigmaPlacement.class, "--sigma", sigma);
    MlaConverter.SplitWidth width = enumOption(MlaConverter.SplitWidth.class, "--split-width",
        splitWidth);
    AwareObjective objective = enumOption(AwareObjective.class, "--aware-objective", awareObjective);
    try (Backend backend = Backends.create(threads == null ? Backends.defaultThreads() : threads);
        LlamaWeights w = LlamaWeights.load(model);
        Arena arena = Arena.ofShared()) {
      ModelConfig c = w.config();
      int pairs = r == null ? Math.max(1, c.headDim() / 16) : r;
      if (exportReference != null && activationAware && objective == AwareObjective.ATTENTION
          && !c.attentionBias()) {
        throw new IllegalArgumentException("--export-reference: " + ReferenceLayout.VALUE_BIAS_REFUSAL);
      }
      boolean twoNorm = select == PairSelection.Strategy.TWO_NORM
          || select == PairSelection.Strategy.TWO_NORM_SUM;
      PairNormStats stats = twoNorm ? new PairNormStats(backend, c.layers(), c.heads(),
          c.kvHeads(), c.headDim(), l -> w.layer(l).attention()) : null;
      int[] ids = stats != null || activationAware ? calibrationTokens(c) : null;
      if (stats != null) {
        try (Progress p = new Progress("calibrate", windows(ids), "windows")) {
          Calibration.original(backend, w, ids, calibWindow, windows(ids), stats, p.step());
        }
      }
      int[][][] kept = PairSelection.select(select, c.layers(), c.heads(), c.kvHeads(),
          c.headDim(), pairs, stats);
      InputMoments moments = null;
      if (activationAware) {
        try (Progress p = new Progress("calibrate partial RoPE", windows(ids), "windows")) {
          moments = Calibration.partialRopeMoments(backend, w, kept, ids, calibWindow,
              windows(ids), p.step());
        }
      }
      MlaConverter.Options o = MlaConverter.Options.joint(dKv).withSvd(method)
          .withSplitWidth(width).withSigma(placement)
          .withAware(activationAware ? ActivationAwareOptions.DEFAULT.withObjective(objective)
              .withDamping(damping).withKeyWeight(keyWeight) : null)
          .withWeights(weights);
      MlaAttentionWeights[] layers;
      try (Progress p = new Progress("convert", c.layers(), "layers")) {
        var done = p.step();
        layers = MlaConverter.convertModel(backend, c, l -> w.layer(l).attention(), kept, o,
            moments, l -> done.accept(l + 1), arena);
      }
      MlaConfig config = new MlaConfig(c, pairs, dKv, select.configName(), method.configName(),
          placement.configName());
      MlaCheckpoint.save(out, w, config, layers,
          activationAware ? objective.configName() : "weights");
      if (exportReference != null) {
        ReferenceLayout.export(exportReference, w, config, layers);
      }
      long elements = (long) c.layers() * (c.kvHeads() * 2L * pairs + layers[0].wDkv().rows());
      long mha = 2L * c.kvHeads() * c.headDim() * c.layers();
      System.out.printf("wrote %s: r=%d, L=%d, %s, svd %s; KV cache %d elements/token vs %d "
          + "(%.2f%%)%n", out, pairs, layers[0].wDkv().rows(), select.configName(),
          method.configName(), elements, mha, 100.0 * (elements - mha) / mha);
      return 0;
    }
  }

  /** The calibration file's tokens; refuses a missing file option or too few tokens. */
  private int[] calibrationTokens(ModelConfig c) throws Exception {
    if (calib == null) {
      throw new IllegalArgumentException("--strategy " + strategy + (activationAware
          ? " / --activation-aware" : "") + " needs calibration data: give --calib FILE");
    }
    int[] ids = Tokens.parse(tokens).read(calib, c.vocabSize());
    if (windows(ids) == 0) {
      throw new IllegalArgumentException(calib + ": fewer than one calibration window of "
          + calibWindow + " tokens");
    }
    return ids;
  }

  private int windows(int[] ids) {
    return Calibration.windows(ids.length, calibWindow, calibWindows);
  }

  private static <E extends Enum<E>> E enumOption(Class<E> type, String option, String value) {
    try {
      return Enum.valueOf(type, value.toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(option + " " + value + ": not one of "
          + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(Locale.ROOT));
    }
  }
}
