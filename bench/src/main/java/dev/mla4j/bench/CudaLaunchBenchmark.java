package dev.mla4j.bench;

import dev.mla4j.api.Backends;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaGraph;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.cuda.DevicePagedCache;
import dev.mla4j.cuda.PagedAttention;
import dev.mla4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The host's time to queue one decode step's attention on the GPU ({@link PagedAttention#launch}:
 * the kernel, and the split merge where the plan splits), which is what a batch-1 decode loop pays
 * on the CPU per layer besides the kernel: launched directly ({@link #step}) or replayed from a
 * {@link CudaGraph} ({@link #graphStep}). The queue is drained outside the timed calls every
 * {@link #DRAIN} steps, far below the driver's queue depth, so a launch never waits for the GPU
 * and the figure is the launch path's alone. Compare with the driver's own cost per launch from C
 * ({@code native/launch_cost.cu}) and with the kernel's time ({@link CudaDecodeBench}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class CudaLaunchBenchmark {
  /** Steps queued between two drains: a 20 us kernel keeps the GPU busy while they are queued. */
  static final int DRAIN = 64;

  @Param({"LLAMA2_7B_DKV16"})
  public DecodePreset preset;

  @Param({"mla", "mha"})
  public String attention;

  @Param({"1024"})
  public int context;

  private Arena arena;
  private CudaStream stream;
  private DevicePagedCache cache;
  private PagedAttention plan;
  private DeviceBuffer qa;
  private DeviceBuffer qb;
  private DeviceBuffer out;
  private DeviceBuffer table;
  private DeviceBuffer first;
  private CudaGraph graph;
  private int queued;

  @Setup(Level.Trial)
  public void setUp() {
    Backends.cudaUnavailableReason().ifPresent(why -> {
      throw new IllegalStateException("CudaLaunchBenchmark needs a CUDA GPU (" + why
          + "); on a machine without one, leave it out: ./mla4j bench -e CudaLaunchBenchmark");
    });
    CudaContext ctx = CudaContext.get();
    arena = Arena.ofConfined();
    stream = ctx.newStream();
    int blocks = context / PagedLayers.BLOCK_TOKENS;
    boolean mla = attention.equals("mla");
    int heads = mla ? preset.mla().heads() : preset.mha().heads();
    int aWidth = mla ? preset.mla().latentDim() : preset.mha().headDim();
    // the cache is left as allocated: the launch path's cost does not depend on its values
    cache = mla
        ? new DevicePagedCache(ctx, DType.BF16, blocks, preset.mla().latentDim(),
            preset.mla().ropeKeyWidth())
        : new DevicePagedCache(ctx, DType.BF16, blocks, preset.mha().kvWidth(),
            preset.mha().kvWidth());
    plan = mla
        ? PagedAttention.mlaTensorCore(ctx, preset.mla(), cache, 1, 1, context)
        : PagedAttention.mhaTensorCore(ctx, preset.mha(), cache, 1, 1, context);
    qa = zeros(ctx, 4L * heads * aWidth);
    qb = zeros(ctx, 4L * heads * Math.max(1, mla ? preset.mla().ropeDim() : 0));
    out = zeros(ctx, 4L * heads * aWidth);
    int[] ids = new int[blocks];
    for (int i = 0; i < blocks; i++) {
      ids[i] = i;
    }
    table = ctx.allocate(4L * blocks);
    table.upload(stream, arena.allocate(4L * blocks, 4).copyFrom(MemorySegment.ofArray(ids)), 0);
    first = zeros(ctx, 4);
    first.upload(stream, arena.allocate(4, 4).fill((byte) 0), 0);
    graph = CudaGraph.capture(ctx, stream, this::step);
    stream.synchronize();
    System.out.println("# mla4j: " + ctx.describe() + ", " + attention + " " + preset
        + " batch 1, context " + context + ": " + plan.kernel() + ", " + plan.splits()
        + " splits");
  }

  private DeviceBuffer zeros(CudaContext ctx, long bytes) {
    DeviceBuffer b = ctx.allocate(bytes);
    b.upload(stream, arena.allocate(bytes, 16).fill((byte) 0), 0);
    return b;
  }

  /** Drains the queue every {@link #DRAIN} steps, outside the timed call. */
  @Setup(Level.Invocation)
  public void drain() {
    if (++queued % DRAIN == 0) {
      stream.synchronize();
    }
  }

  @Benchmark
  public void step() {
    plan.launch(stream, qa.pointer(), qb.pointer(), table.pointer(),
        context / PagedLayers.BLOCK_TOKENS, first.pointer(), out.pointer());
  }

  /** The same step replayed from a {@link CudaGraph}: one cuGraphLaunch. */
  @Benchmark
  public void graphStep() {
    graph.launch(stream);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    stream.synchronize();
    for (AutoCloseable c : new AutoCloseable[] {graph, plan, qa, qb, out, table, first, cache, stream}) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing " + c, e);
      }
    }
    arena.close();
  }
}
