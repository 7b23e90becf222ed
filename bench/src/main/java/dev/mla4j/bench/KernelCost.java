package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.tensor.DType;
import java.util.Map;
import java.util.Optional;

/**
 * FLOPs and bytes moved by one operation of each benchmark, counted the way FlashMLA's and
 * flash-attention's benchmarks count them, so mla4j's GB/s and GFLOP/s compare with published
 * ones: a multiply-add is 2 FLOPs; bytes are the unavoidable traffic (cache or weights read
 * once), not what a particular kernel happens to re-read.
 *
 * @param flops floating-point operations per operation
 * @param bytes bytes read or written per operation
 */
public record KernelCost(double flops, double bytes) {

  /**
   * One MLA decode step (spec 4.4) at context N: per cached token each of the n_h heads does
   * {@code d_r + L} MACs for its score and L for its output, and the cache is read once.
   * <pre>
   *   flops = 2·n_h·N·(d_r + 2L)
   *   bytes = N·(n_kv·d_r + L)·sizeof(cache)      (d_r instead of n_kv·d_r for a shared rope key)
   * </pre>
   */
  public static KernelCost mlaDecode(MlaShape s, int context, DType cache) {
    double flops = 2.0 * s.heads() * context * (s.ropeDim() + 2.0 * s.latentDim());
    double bytes = (double) context * s.cacheElementsPerToken() * cache.bytes();
    return new KernelCost(flops, bytes);
  }

  /**
   * One MHA decode step at context N: per cached token each head does d_h MACs for QKᵀ and d_h
   * for PV; K and V are read once.
   * <pre>
   *   flops = 2·2·n_h·N·d_h
   *   bytes = N·2·n_kv·d_h·sizeof(cache)
   * </pre>
   */
  public static KernelCost mhaDecode(MhaShape s, int context, DType cache) {
    double flops = 4.0 * s.heads() * context * s.headDim();
    double bytes = (double) context * s.cacheElementsPerToken() * cache.bytes();
    return new KernelCost(flops, bytes);
  }

  /**
   * A causal prefill chunk of T queries at positions N−T .. N−1: query t attends to N−T+1+t
   * cached tokens, {@code A = T·N − T(T−1)/2} scores per head in all; the cache is read once.
   * <pre>
   *   flops = 2·n_h·A·(d_r + 2L)
   *   bytes = N·(n_kv·d_r + L)·sizeof(cache)
   * </pre>
   */
  public static KernelCost mlaPrefill(MlaShape s, int context, int tokens, DType cache) {
    double attended = attended(context, tokens);
    double flops = 2.0 * s.heads() * attended * (s.ropeDim() + 2.0 * s.latentDim());
    return new KernelCost(flops, mlaDecode(s, context, cache).bytes());
  }

  /**
   * MHA prefill chunk as {@link #mlaPrefill}:
   * <pre>
   *   flops = 4·n_h·A·d_h
   *   bytes = N·2·n_kv·d_h·sizeof(cache)
   * </pre>
   */
  public static KernelCost mhaPrefill(MhaShape s, int context, int tokens, DType cache) {
    double flops = 4.0 * s.heads() * attended(context, tokens) * s.headDim();
    return new KernelCost(flops, mhaDecode(s, context, cache).bytes());
  }

  /** Scores per head of T causal queries ending at position N−1: T·N − T(T−1)/2. */
  private static double attended(int context, int tokens) {
    return (double) tokens * context - (double) tokens * (tokens - 1) / 2;
  }

  /**
   * Linear layer {@code y[T][out] = x[T][in]·Wᵀ}: weights read once, F32 activations in and out.
   * <pre>
   *   flops = 2·T·out·in
   *   bytes = out·in·sizeof(W) + 4·T·(in + out)
   * </pre>
   */
  public static KernelCost linear(int tokens, int out, int in, DType weights) {
    double flops = 2.0 * tokens * out * in;
    double bytes = (double) out * in * weights.bytes() + 4.0 * tokens * (in + out);
    return new KernelCost(flops, bytes);
  }

  /**
   * In-place partial RoPE of T tokens, n_h heads, r kept pairs each: a pair's rotation is 4
   * multiplies and 2 adds (the cos/sin evaluation is not counted); F32 read and written.
   * <pre>
   *   flops = 6·T·n_h·r
   *   bytes = 2·4·T·n_h·2r
   * </pre>
   */
  public static KernelCost rope(int tokens, int heads, int pairs) {
    return new KernelCost(6.0 * tokens * heads * pairs, 16.0 * tokens * heads * pairs);
  }

  /** A pass that reads {@code bytes} and does one add per float: a bandwidth probe. */
  public static KernelCost read(long bytes) {
    return new KernelCost(bytes / 4.0, bytes);
  }

  /** {@code fmas} vector FMAs of {@code lanes} float lanes: 2 FLOPs per lane, no memory. */
  public static KernelCost fma(long fmas, int lanes) {
    return new KernelCost(2.0 * fmas * lanes, 0);
  }

  /**
   * The cost of one operation of a JMH result, found from its benchmark name (class and method)
   * parameters and JMH thread count; empty for a benchmark this class does not know. Per JMH
   * thread: a benchmark run by several JMH threads does this much work per thread per operation.
   */
  public static Optional<KernelCost> of(String benchmark, Map<String, String> params,
      int jmhThreads) {
    String[] parts = benchmark.split("\\.");
    String method = parts[parts.length - 1];
    String type = parts.length > 1 ? parts[parts.length - 2] : "";
    return switch (type) {
      case "DecodeBenchmark" -> Optional.of(DecodeBenchmark.cost(method, params));
      case "PrefillBenchmark" -> Optional.of(PrefillBenchmark.cost(method, params));
      case "ProjectionBenchmark" -> Optional.of(ProjectionBenchmark.cost(params));
      case "RopeBenchmark" -> Optional.of(RopeBenchmark.cost(params));
      case "CeilingBenchmark" -> {
        if (!EnvironmentInfo.vectorModulePresent()) {
          throw new IllegalStateException("CeilingBenchmark costs need the Vector API's lane count:"
              + " run with --add-modules=jdk.incubator.vector");
        }
        yield CeilingBenchmark.cost(method, params, jmhThreads);
      }
      default -> Optional.empty();
    };
  }
}
