package dev.mla4j.cli;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.model.DecoderModel;
import dev.mla4j.model.LlamaModel;
import dev.mla4j.model.LlamaWeights;
import dev.mla4j.model.MlaCheckpoint;
import dev.mla4j.model.MlaModel;
import dev.mla4j.model.ModelConfig;
import dev.mla4j.model.Perplexity;
import dev.mla4j.tensor.DType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mla4j eval}: held-out perplexity of an original or converted checkpoint. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Perplexity of a checkpoint (Hugging Face or mla4j MLA) on a token file, "
        + "over non-overlapping windows, and its KV-cache bytes per token.")
final class EvalCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "checkpoint folder")
  Path model;

  @Option(names = "--data", required = true, description = "held-out text or token file")
  Path data;

  @Option(names = "--tokens", defaultValue = "bytes",
      description = "token file format: bytes (byte-level models) or u32 (little-endian ids)")
  String tokens;

  @Option(names = "--window", defaultValue = "512", description = "window length in tokens")
  int window;

  @Option(names = "--windows", defaultValue = "0", description = "at most this many windows (0: all)")
  int maxWindows;

  @Option(names = "--first-window", defaultValue = "0",
      description = "skip this many windows first (e.g. the calibration part of a file)")
  int firstWindow;

  @Option(names = "--cache", defaultValue = "F32",
      description = "cache storage: F32, BF16, F16, or INT8, INT4 or FP8 (OCP E4M3) with "
          + "per-token group scales")
  String cacheType;

  @Option(names = "--group-size", defaultValue = "" + CacheFormat.DEFAULT_GROUP,
      description = "INT8/INT4/FP8: elements per BF16 scale (even; 32 to 128 are usual)")
  int groupSize;

  @Option(names = "--cache-window", defaultValue = "0",
      description = "INT8/INT4/FP8: most recent tokens kept in BF16 before they are quantized")
  int cacheWindow;

  @Option(names = "--quantize-rope-keys",
      description = "INT8/INT4/FP8, MLA checkpoints: quantize the rope keys too (default: BF16)")
  boolean quantizeRopeKeys;

  @Option(names = "--threads", description = "CPU threads (default: all processors)")
  Integer threads;

  @Override
  public Integer call() throws Exception {
    boolean mla = MlaCheckpoint.isMlaCheckpoint(model);
    CacheFormat format = CacheFormat.parse(cacheType, groupSize, cacheWindow,
        mla && quantizeRopeKeys);
    try (Backend backend = Backends.create(threads == null ? Backends.defaultThreads() : threads);
        Loaded loaded = mla ? Loaded.mla(model, backend, window, format)
            : Loaded.original(model, backend, window, format)) {
      ModelConfig c = loaded.model.config();
      int[] ids = Tokens.parse(tokens).read(data, c.vocabSize());
      if (firstWindow < 0 || (long) firstWindow * window >= ids.length) {
        throw new IllegalArgumentException("--first-window " + firstWindow + ": " + data + " has "
            + ids.length + " tokens, " + ids.length / window + " windows of " + window);
      }
      ids = java.util.Arrays.copyOfRange(ids, firstWindow * window, ids.length);
      int windows = Perplexity.windows(ids.length, window);
      if (maxWindows > 0) {
        windows = Math.min(windows, maxWindows);
      }
      System.out.printf("%s (%s), %s, cache %s%n", model, mla ? "MLA checkpoint" : "original",
          backend, format);
      long start = System.nanoTime();
      Perplexity.Result r;
      try (Progress p = new Progress("eval", windows, "windows")) {
        r = Perplexity.evaluate(loaded.model, ids, window, windows, p.step());
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long mhaBf16 = 2L * c.kvHeads() * c.headDim() * c.layers() * DType.BF16.bytes();
      long bytes = loaded.cacheBytesPerToken;
      System.out.printf("perplexity %.4f  mean NLL %.5f nats  (%d windows of %d, %d predictions,"
          + " %.1f s)%n", r.perplexity(), r.meanNll(), r.windows(), window, r.predictions(), seconds);
      System.out.printf("KV cache per token (all layers): %d B in %s (scales included); MHA in"
          + " BF16 %d B; reduction %.2f%%%n", bytes, format, mhaBf16,
          100.0 * (1 - (double) bytes / mhaBf16));
      return 0;
    }
  }

  /** A model and what owns its weights. */
  private record Loaded(DecoderModel model, AutoCloseable owner, long cacheBytesPerToken)
      implements AutoCloseable {

    static Loaded original(Path folder, Backend b, int window, CacheFormat cache)
        throws Exception {
      LlamaWeights w = LlamaWeights.load(folder);
      LlamaModel m = new LlamaModel(w, b, window, cache, null);
      return new Loaded(m, w, m.cache().bytesPerToken());
    }

    static Loaded mla(Path folder, Backend b, int window, CacheFormat cache) throws Exception {
      MlaCheckpoint ck = MlaCheckpoint.load(folder);
      MlaModel m = new MlaModel(ck.base(), ck.layers(), b, window, cache);
      return new Loaded(m, ck, m.cache().bytesPerToken());
    }

    @Override
    public void close() throws Exception {
      model.close();
      owner.close();
    }
  }
}
