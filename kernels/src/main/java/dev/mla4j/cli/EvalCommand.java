package dev.mla4j.cli;

import dev.mla4j.api.Backend;
import dev.mla4j.api.Backends;
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

  @Option(names = "--cache", defaultValue = "F32", description = "cache storage: F32 or BF16")
  DType cacheType;

  @Option(names = "--threads", description = "CPU threads (default: all processors)")
  Integer threads;

  @Override
  public Integer call() throws Exception {
    boolean mla = MlaCheckpoint.isMlaCheckpoint(model);
    try (Backend backend = Backends.create(threads == null ? Backends.defaultThreads() : threads);
        Loaded loaded = mla ? Loaded.mla(model, backend, window, cacheType)
            : Loaded.original(model, backend, window, cacheType)) {
      ModelConfig c = loaded.model.config();
      int[] ids = Tokens.parse(tokens).read(data, c.vocabSize());
      int windows = Perplexity.windows(ids.length, window);
      if (maxWindows > 0) {
        windows = Math.min(windows, maxWindows);
      }
      System.out.printf("%s (%s), %s%n", model, mla ? "MLA checkpoint" : "original", backend);
      long start = System.nanoTime();
      Perplexity.Result r;
      try (Progress p = new Progress("eval", windows, "windows")) {
        r = Perplexity.evaluate(loaded.model, ids, window, windows, p.step());
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long mhaElements = 2L * c.kvHeads() * c.headDim() * c.layers();
      long elements = loaded.cacheBytesPerToken / cacheType.bytes();
      System.out.printf("perplexity %.4f  mean NLL %.5f nats  (%d windows of %d, %d predictions,"
          + " %.1f s)%n", r.perplexity(), r.meanNll(), r.windows(), window, r.predictions(), seconds);
      System.out.printf("KV cache per token (all layers): %d elements = %d B in BF16; MHA %d B;"
          + " reduction %.2f%%%n", elements, 2 * elements, 2 * mhaElements,
          100.0 * (1 - (double) elements / mhaElements));
      return 0;
    }
  }

  /** A model and what owns its weights. */
  private record Loaded(DecoderModel model, AutoCloseable owner, long cacheBytesPerToken)
      implements AutoCloseable {

    static Loaded original(Path folder, Backend b, int window, DType cache) throws Exception {
      LlamaWeights w = LlamaWeights.load(folder);
      LlamaModel m = new LlamaModel(w, b, window, cache, null);
      return new Loaded(m, w, m.cache().bytesPerToken());
    }

    static Loaded mla(Path folder, Backend b, int window, DType cache) throws Exception {
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
