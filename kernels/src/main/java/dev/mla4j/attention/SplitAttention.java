package dev.mla4j.attention;

import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits causal attention of T query tokens over the cache into tasks: tiles of query tokens
 * (prefill) and, when there are fewer tiles than threads, ranges of whole 64-token blocks of the
 * cached sequence (split-KV decode), merged by log-sum-exp. Backend-independent: kernels only see
 * one (query tile, key range) pair at a time.
 */
public final class SplitAttention {
  /** Fewer cached tokens than this per task are not worth a thread hand-off. */
  static final int MIN_KEYS_PER_SPLIT = 4 * PagedLayers.BLOCK_TOKENS;

  /** One kernel call: query rows of tokens [t0, t0+count), cached range [from, to). */
  @FunctionalInterface
  public interface RangeKernel {
    void attend(int firstToken, int tokenCount, int from, int to, SoftmaxState state);
  }

  private SplitAttention() {}

  /**
   * @param tokens T query tokens, at positions firstQueryPos..firstQueryPos+T-1
   * @param heads query rows per token (n_h)
   * @param width value width (L for MLA, d_h for MHA)
   * @param out {@code [T·heads][width]}, normalized output
   */
  public static void run(TaskRunner runner, int tokens, int heads, int width, int firstQueryPos,
      RangeKernel kernel, Tensor out) {
    int threads = runner.threads();
    int tileTokens = Math.max(1, Math.min(16, (tokens + 4 * threads - 1) / (4 * threads)));
    int tiles = (tokens + tileTokens - 1) / tileTokens;
    int wantedSplits = tiles >= threads ? 1 : (threads + tiles - 1) / tiles;

    List<Runnable> tasks = new ArrayList<>();
    List<Runnable> merges = new ArrayList<>();
    for (int tile = 0; tile < tiles; tile++) {
      int t0 = tile * tileTokens;
      int count = Math.min(tileTokens, tokens - t0);
      int keyEnd = firstQueryPos + t0 + count;
      int splits = Math.max(1, Math.min(wantedSplits, keyEnd / MIN_KEYS_PER_SPLIT));
      int blocks = (keyEnd + PagedLayers.BLOCK_TOKENS - 1) / PagedLayers.BLOCK_TOKENS;
      SoftmaxState[] states = new SoftmaxState[splits];
      for (int s = 0; s < splits; s++) {
        int from = (int) ((long) blocks * s / splits) * PagedLayers.BLOCK_TOKENS;
        int to = Math.min(keyEnd, (int) ((long) blocks * (s + 1) / splits) * PagedLayers.BLOCK_TOKENS);
        SoftmaxState state = new SoftmaxState(count * heads, width);
        states[s] = state;
        tasks.add(() -> kernel.attend(t0, count, from, to, state));
      }
      Tensor tileOut = out.rows(t0 * heads, count * heads);
      merges.add(() -> {
        for (int s = 1; s < states.length; s++) {
          states[0].merge(states[s]);
        }
        states[0].writeNormalized(tileOut);
      });
    }
    runner.runAll(tasks);
    merges.forEach(Runnable::run);
  }
}
