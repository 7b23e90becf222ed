package dev.mla4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * The machine's ceilings for the roofline: DRAM read bandwidth and vector FMA throughput,
 * measured with the Vector API at the preferred species, on 1, 2 and all JMH threads (one per
 * processor). Results are per JMH thread; {@link RooflineTable} multiplies by the thread count.
 *
 * <p>Read: each thread sums its own half (1 thread: all) of an off-heap array of
 * {@code arrayMiB} (default 512 MiB, far larger than any last-level cache), with 4 vector
 * accumulators so the adds never limit the stream. Cost {@link KernelCost#read}.
 *
 * <p>FMA: {@value #FMA_ITERATIONS} iterations of {@code acc_i = acc_i·m + a} on 12 (or 8)
 * independent vector accumulators. An FMA has a latency of 4-5 cycles and 2 can issue per cycle,
 * so at least 8-10 chains in flight are needed to saturate both FMA ports; 12 accumulators plus
 * the two operands still fit in the 16 AVX2 registers. The {@code acc8} variant shows whether 12
 * was enough (equal numbers) or the loop is latency-bound. The chains are data-dependent and the
 * result is returned, and FP FMAs are not reassociated by C2, so no iteration can be removed.
 * {@code acc·m + a} with 0 < m < 1 converges to a/(1-m), so no overflow or denormal slows it
 * down. Cost {@link KernelCost#fma}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(1)
public class CeilingBenchmark {
  static final int FMA_ITERATIONS = 1 << 20;
  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
  private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

  @Param({"512"})
  public int arrayMiB;

  private Arena arena;
  private MemorySegment data;
  // not final and not static: C2 must not treat the FMA operands as constants
  private float multiplier = 0.999f;
  private float addend = 1e-3f;

  @Setup(Level.Trial)
  public void setUp() {
    arena = Arena.ofShared();
    long bytes = (long) arrayMiB << 20;
    data = arena.allocate(bytes, 64);
    // touch every page with non-zero data so the read measures DRAM, not the zero page
    SplittableRandom random = new SplittableRandom(7);
    for (long i = 0; i < bytes / 4; i++) {
      data.setAtIndex(FLOAT, i, (float) random.nextDouble(-1, 1));
    }
    System.out.println("# mla4j ceiling: " + SPECIES + ", array " + arrayMiB + " MiB");
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    arena.close();
  }

  /** Per-thread state: which slice of the array this JMH thread reads. */
  @State(Scope.Thread)
  public static class Slice {
    long from;
    long to;

    @Setup(Level.Trial)
    public void setUp(CeilingBenchmark b, ThreadParams params) {
      long part = b.data.byteSize() / params.getThreadCount();
      part -= part % (SPECIES.vectorByteSize() * 4L);
      from = part * params.getThreadIndex();
      to = from + part;
    }
  }

  @Benchmark
  @Threads(1)
  public float read1T(Slice slice) {
    return sum(data, slice.from, slice.to);
  }

  @Benchmark
  @Threads(2)
  public float read2T(Slice slice) {
    return sum(data, slice.from, slice.to);
  }

  /** All processors reading their own slice: the bandwidth a kernel using every core sees. */
  @Benchmark
  @Threads(Threads.MAX)
  public float readAllT(Slice slice) {
    return sum(data, slice.from, slice.to);
  }

  @Benchmark
  @Threads(1)
  public float fma1T() {
    return fma12(multiplier, addend);
  }

  @Benchmark
  @Threads(2)
  public float fma2T() {
    return fma12(multiplier, addend);
  }

  @Benchmark
  @Threads(Threads.MAX)
  public float fmaAllT() {
    return fma12(multiplier, addend);
  }

  @Benchmark
  @Threads(1)
  public float fma1TAcc8() {
    return fma8(multiplier, addend);
  }

  /** Sum of the floats in bytes [from, to), a multiple of 4 vectors long. */
  private static float sum(MemorySegment seg, long from, long to) {
    FloatVector s0 = FloatVector.zero(SPECIES);
    FloatVector s1 = s0;
    FloatVector s2 = s0;
    FloatVector s3 = s0;
    long step = SPECIES.vectorByteSize();
    ByteOrder order = ByteOrder.nativeOrder();
    for (long off = from; off < to; off += 4 * step) {
      s0 = s0.add(FloatVector.fromMemorySegment(SPECIES, seg, off, order));
      s1 = s1.add(FloatVector.fromMemorySegment(SPECIES, seg, off + step, order));
      s2 = s2.add(FloatVector.fromMemorySegment(SPECIES, seg, off + 2 * step, order));
      s3 = s3.add(FloatVector.fromMemorySegment(SPECIES, seg, off + 3 * step, order));
    }
    return s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
  }

  private static float fma12(float m, float a) {
    FloatVector vm = FloatVector.broadcast(SPECIES, m);
    FloatVector va = FloatVector.broadcast(SPECIES, a);
    FloatVector c0 = FloatVector.broadcast(SPECIES, 0.1f);
    FloatVector c1 = FloatVector.broadcast(SPECIES, 0.2f);
    FloatVector c2 = FloatVector.broadcast(SPECIES, 0.3f);
    FloatVector c3 = FloatVector.broadcast(SPECIES, 0.4f);
    FloatVector c4 = FloatVector.broadcast(SPECIES, 0.5f);
    FloatVector c5 = FloatVector.broadcast(SPECIES, 0.6f);
    FloatVector c6 = FloatVector.broadcast(SPECIES, 0.7f);
    FloatVector c7 = FloatVector.broadcast(SPECIES, 0.8f);
    FloatVector c8 = FloatVector.broadcast(SPECIES, 0.9f);
    FloatVector c9 = FloatVector.broadcast(SPECIES, 1.0f);
    FloatVector c10 = FloatVector.broadcast(SPECIES, 1.1f);
    FloatVector c11 = FloatVector.broadcast(SPECIES, 1.2f);
    for (int i = 0; i < FMA_ITERATIONS; i++) {
      c0 = c0.fma(vm, va);
      c1 = c1.fma(vm, va);
      c2 = c2.fma(vm, va);
      c3 = c3.fma(vm, va);
      c4 = c4.fma(vm, va);
      c5 = c5.fma(vm, va);
      c6 = c6.fma(vm, va);
      c7 = c7.fma(vm, va);
      c8 = c8.fma(vm, va);
      c9 = c9.fma(vm, va);
      c10 = c10.fma(vm, va);
      c11 = c11.fma(vm, va);
    }
    return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10)
        .add(c11).reduceLanes(VectorOperators.ADD);
  }

  private static float fma8(float m, float a) {
    FloatVector vm = FloatVector.broadcast(SPECIES, m);
    FloatVector va = FloatVector.broadcast(SPECIES, a);
    FloatVector c0 = FloatVector.broadcast(SPECIES, 0.1f);
    FloatVector c1 = FloatVector.broadcast(SPECIES, 0.2f);
    FloatVector c2 = FloatVector.broadcast(SPECIES, 0.3f);
    FloatVector c3 = FloatVector.broadcast(SPECIES, 0.4f);
    FloatVector c4 = FloatVector.broadcast(SPECIES, 0.5f);
    FloatVector c5 = FloatVector.broadcast(SPECIES, 0.6f);
    FloatVector c6 = FloatVector.broadcast(SPECIES, 0.7f);
    FloatVector c7 = FloatVector.broadcast(SPECIES, 0.8f);
    for (int i = 0; i < FMA_ITERATIONS; i++) {
      c0 = c0.fma(vm, va);
      c1 = c1.fma(vm, va);
      c2 = c2.fma(vm, va);
      c3 = c3.fma(vm, va);
      c4 = c4.fma(vm, va);
      c5 = c5.fma(vm, va);
      c6 = c6.fma(vm, va);
      c7 = c7.fma(vm, va);
    }
    return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7)
        .reduceLanes(VectorOperators.ADD);
  }

  /**
   * Cost of one operation of {@code method} per JMH thread. The FMA lane count is this JVM's
   * preferred species: read results on the machine that produced them.
   */
  static Optional<KernelCost> cost(String method, Map<String, String> params, int jmhThreads) {
    long bytes = Long.parseLong(params.getOrDefault("arrayMiB", "512")) << 20;
    int lanes = VectorWidth.floatLanes();
    return switch (method) {
      // each JMH thread reads its 1/threads slice (Slice rounds it down by < 4 vectors)
      case "read1T", "read2T", "readAllT" -> Optional.of(KernelCost.read(bytes / jmhThreads));
      case "fma1T", "fma2T", "fmaAllT" -> Optional.of(KernelCost.fma(12L * FMA_ITERATIONS, lanes));
      case "fma1TAcc8" -> Optional.of(KernelCost.fma(8L * FMA_ITERATIONS, lanes));
      default -> Optional.empty();
    };
  }
}
