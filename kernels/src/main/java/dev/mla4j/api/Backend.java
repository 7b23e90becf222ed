package dev.mla4j.api;

import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.attention.SplitAttention;
import dev.mla4j.attention.TaskRunner;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * One implementation of mla4j's kernels (scalar, SIMD, later CUDA). The public methods check
 * shapes once, split the work over the backend's threads and call the implementation's
 * single-threaded kernel bodies; activations are F32, weights F32, BF16 or F16, caches any
 * {@link CacheFormat} (plain, or int8/int4/fp8 read by the kernels directly).
 * Obtain one from {@link Backends}; close it to stop its worker threads.
 *
 * <p>With more than one thread, kernels read and write their operands from worker threads, so
 * tensors must live in memory any thread may access (a shared or global arena, or
 * {@code Arena.ofAuto()}), not in a confined arena.
 */
public abstract class Backend implements AutoCloseable {
  /** Below this many multiply-adds a linear layer runs on the calling thread alone. */
  private static final long MIN_PARALLEL_MACS = 1 << 16;

  private final TaskRunner runner;

  protected Backend(int threads) {
    this.runner = new TaskRunner(threads);
  }

  /** {@code scalar}, {@code simd} or {@code cuda}. */
  public abstract String name();

  /** One line saying what runs: backend, vector width, threads. */
  public abstract String description();

  public int threads() {
    return runner.threads();
  }

  // ---- kernel bodies supplied by each implementation (single-threaded, shapes already checked)

  /** {@code y[t][o] = Σ_i x[t][i]·w[o][i]} for the given rows of w / columns of y. */
  protected abstract void linearBody(Tensor x, Tensor w, Tensor y);

  /** {@code y[t][i] = Σ_o x[t][o]·w[o][i]} for the given columns of w and y. */
  protected abstract void linearTransposedBody(Tensor x, Tensor w, Tensor y);

  protected abstract void ropeBody(Tensor x, int[] positions, PartialRope rope, int layer,
      int groupSize);

  protected abstract MlaKernel mlaKernel();

  protected abstract MhaKernel mhaKernel();

  /**
   * Refuses a cache format this backend cannot read, before anything is appended. The CPU
   * backends read every {@link CacheFormat}; a backend that cannot throws an
   * {@link UnsupportedOperationException} naming the format and what to use instead.
   */
  protected void requireSupported(CacheFormat format, String cacheName) {}

  // ---- public API

  /**
   * Linear layer without bias, {@code y = x Wᵀ} (nn.Linear convention): GEMV for one token,
   * GEMM for many.
   *
   * @param x {@code [T][in]} F32
   * @param w {@code [out][in]} F32, BF16 or F16
   * @param y {@code [T][out]} F32, overwritten
   */
  public void linear(Tensor x, Tensor w, Tensor y) {
    x.requireF32("linear input x", x.rows(), w.cols());
    y.requireF32("linear output y", x.rows(), w.rows());
    splitColumns(w.rows(), (long) x.rows() * w.rows() * w.cols(),
        (o0, n) -> linearBody(x, w.rows(o0, n), y.cols(o0, n)));
  }

  /**
   * Product with a transposed weight, {@code y = x W}: the absorbed query
   * {@code q~ = W_ukᵀ q_nope} (spec 4.3) is this with W = the kv head's block of W_uk.
   *
   * @param x {@code [T][out]} F32
   * @param w {@code [out][in]} F32, BF16 or F16
   * @param y {@code [T][in]} F32, overwritten
   */
  public void linearTransposed(Tensor x, Tensor w, Tensor y) {
    x.requireF32("linearTransposed input x", x.rows(), w.rows());
    y.requireF32("linearTransposed output y", x.rows(), w.cols());
    splitColumns(w.cols(), (long) x.rows() * w.rows() * w.cols(),
        (i0, n) -> linearTransposedBody(x, w.cols(i0, n), y.cols(i0, n)));
  }

  /**
   * Rotates compact rope vectors in place (spec 2.4). Row t holds the rope vectors of all heads
   * of token t; head h uses kv head ⌊h / (heads / n_kv)⌋'s kept pairs, each pair rotated by
   * {@code positions[t]·θ_i} with its original frequency θ_i.
   *
   * @param x {@code [T][heads·d_r]} F32, heads a multiple of the rope's n_kv
   * @param positions {@code [T]} absolute positions, >= 0
   */
  public void rope(Tensor x, int[] positions, PartialRope rope, int layer) {
    if (layer < 0 || layer >= rope.layers()) {
      throw new IndexOutOfBoundsException("rope layer " + layer + " outside [0, " + rope.layers() + ")");
    }
    int dr = rope.ropeDim();
    if (dr == 0) {
      return;
    }
    if (x.cols() % dr != 0 || (x.cols() / dr) % rope.kvHeads() != 0) {
      throw new IllegalArgumentException("rope input " + x.shape() + " is not [T][heads·" + dr
          + "] with heads a multiple of n_kv=" + rope.kvHeads());
    }
    if (x.dtype() != DType.F32) {
      throw new IllegalArgumentException("rope input must be F32, is " + x.dtype());
    }
    if (positions.length != x.rows()) {
      throw new IllegalArgumentException(
          "rope got " + positions.length + " positions for " + x.rows() + " tokens");
    }
    for (int p : positions) {
      if (p < 0) {
        throw new IllegalArgumentException("rope position must be >= 0, got " + p);
      }
    }
    ropeBody(x, positions, rope, layer, x.cols() / dr / rope.kvHeads());
  }

  /**
   * Absorbed MLA attention (spec 4.3) for T query tokens at positions
   * {@code firstQueryPos ..  firstQueryPos+T-1}, causal, over {@code layer} of the cache, which
   * must already hold those tokens. Decode is T = 1 at the last cached position.
   *
   * @param qRope {@code [T·n_h][d_r]} F32, rotated
   * @param qLatent {@code [T·n_h][L]} F32, absorbed queries q~
   * @param out {@code [T·n_h][L]} F32: per head the latent-space output u_h
   */
  public void mlaAttention(MlaShape shape, Tensor qRope, Tensor qLatent, LatentCache cache,
      int layer, int firstQueryPos, Tensor out) {
    int tokens = checkMla(shape, qRope, qLatent, cache, out);
    requireSupported(cache.format(), "latent cache");
    cache.checkQueries(layer, firstQueryPos, tokens);
    MlaKernel kernel = mlaKernel();
    int h = shape.heads();
    SplitAttention.run(runner, tokens, h, shape.latentDim(), firstQueryPos,
        (t0, n, from, to, state) -> kernel.attend(shape, qRope.rows(t0 * h, n * h),
            qLatent.rows(t0 * h, n * h), firstQueryPos + t0, cache, layer, from, to, state),
        out);
  }

  /**
   * Prefill (or, with T = 1, decode) of an MLA layer: appends the T new tokens' latents and
   * rotated rope keys to {@code layer} of the cache, then runs causal attention of their queries
   * over everything cached, so token t sees the cached prefix and new tokens 0..t.
   *
   * @param newLatent {@code [T][L]}
   * @param newRopeKeys {@code [T][ropeKeyWidth]}, already rotated
   */
  public void mlaPrefill(MlaShape shape, Tensor qRope, Tensor qLatent, Tensor newLatent,
      Tensor newRopeKeys, LatentCache cache, int layer, Tensor out) {
    int tokens = checkMla(shape, qRope, qLatent, cache, out);
    newLatent.require("new latents", tokens, shape.latentDim());
    newRopeKeys.require("new rope keys", tokens, shape.ropeKeyWidth());
    requireSupported(cache.format(), "latent cache");
    int first = cache.length(layer);
    cache.append(layer, newLatent, newRopeKeys);
    mlaAttention(shape, qRope, qLatent, cache, layer, first, out);
  }

  /**
   * Prefill (or decode) of an MHA/GQA layer: appends the new tokens' K and V, then causal
   * attention of their queries over everything cached.
   *
   * @param newKeys {@code [T][n_kv·d_h]}, rotated
   * @param newValues {@code [T][n_kv·d_h]}
   */
  public void mhaPrefill(MhaShape shape, Tensor q, Tensor newKeys, Tensor newValues,
      KvCache cache, int layer, Tensor out) {
    int tokens = checkMha(shape, q, cache, out);
    newKeys.require("new keys", tokens, shape.kvWidth());
    newValues.require("new values", tokens, shape.kvWidth());
    requireSupported(cache.format(), "KV cache");
    int first = cache.length(layer);
    cache.append(layer, newKeys, newValues);
    mhaAttention(shape, q, cache, layer, first, out);
  }

  /**
   * MHA/GQA attention, the baseline: T query tokens, causal, over {@code layer} of the cache.
   *
   * @param q {@code [T·n_h][d_h]} F32, rotated
   * @param out {@code [T·n_h][d_h]} F32
   */
  public void mhaAttention(MhaShape shape, Tensor q, KvCache cache, int layer, int firstQueryPos,
      Tensor out) {
    int tokens = checkMha(shape, q, cache, out);
    requireSupported(cache.format(), "KV cache");
    cache.checkQueries(layer, firstQueryPos, tokens);
    MhaKernel kernel = mhaKernel();
    int h = shape.heads();
    SplitAttention.run(runner, tokens, h, shape.headDim(), firstQueryPos,
        (t0, n, from, to, state) -> kernel.attend(shape, q.rows(t0 * h, n * h),
            firstQueryPos + t0, cache, layer, from, to, state),
        out);
  }

  /** Checks MLA operands against the shape and cache; returns the number of query tokens T. */
  protected static int checkMla(MlaShape shape, Tensor qRope, Tensor qLatent, LatentCache cache,
      Tensor out) {
    if (!cache.shape().equals(shape)) {
      throw new IllegalArgumentException(
          "latent cache was made for " + cache.shape() + ", attention called with " + shape);
    }
    int rows = qLatent.rows();
    if (rows % shape.heads() != 0) {
      throw new IllegalArgumentException("qLatent has " + rows + " rows, not a multiple of n_h="
          + shape.heads());
    }
    qRope.requireF32("qRope", rows, shape.ropeDim());
    qLatent.requireF32("qLatent", rows, shape.latentDim());
    out.requireF32("MLA output", rows, shape.latentDim());
    return rows / shape.heads();
  }

  /** Checks MHA operands against the shape and cache; returns the number of query tokens T. */
  protected static int checkMha(MhaShape shape, Tensor q, KvCache cache, Tensor out) {
    if (!cache.shape().equals(shape)) {
      throw new IllegalArgumentException(
          "KV cache was made for " + cache.shape() + ", attention called with " + shape);
    }
    int rows = q.rows();
    if (rows % shape.heads() != 0) {
      throw new IllegalArgumentException("q has " + rows + " rows, not a multiple of n_h="
          + shape.heads());
    }
    q.requireF32("q", rows, shape.headDim());
    out.requireF32("MHA output", rows, shape.headDim());
    return rows / shape.heads();
  }

  private interface ColumnRange {
    void run(int from, int count);
  }

  /** Splits {@code n} output columns into one contiguous range per thread, 16-aligned. */
  private void splitColumns(int n, long macs, ColumnRange body) {
    int threads = runner.threads();
    if (threads == 1 || macs < MIN_PARALLEL_MACS || n < 32) {
      body.run(0, n);
      return;
    }
    List<Runnable> tasks = new ArrayList<>(threads);
    int chunk = ((n + threads - 1) / threads + 15) & ~15;
    for (int from = 0; from < n; from += chunk) {
      int f = from;
      int count = Math.min(chunk, n - from);
      tasks.add(() -> body.run(f, count));
    }
    runner.runAll(tasks);
  }

  @Override
  public void close() {
    runner.close();
  }

  @Override
  public String toString() {
    return description();
  }
}
