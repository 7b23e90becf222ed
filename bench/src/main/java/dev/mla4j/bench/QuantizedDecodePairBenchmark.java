package dev.mla4j.bench;

import dev.mla4j.api.Backend;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
 * The BF16 and one quantized MLA decode step (T = 1, one layer, context N; or the MHA baseline's,
 * {@link #attention}) measured at the same time: a JMH group of two threads, one per format, each
 * with its own one-thread backend and its own cache of the same random latent (or keys and
 * values). On a shared machine whose load drifts between runs, the two see the same neighbours
 * in every iteration, so their ratio is steadier than that of {@link QuantizedDecodeBenchmark}'s
 * runs one after the other. Needs a core per thread: with two
 * cores the pair shares the last-level cache and memory bus, as two decode streams would.
 * JMH's two group threads are not equal (BF16 against BF16 ran 4-18% apart in single runs on a
 * 2-core machine, the second slower more often), so {@link #bf16Slot} puts BF16 on either thread:
 * a comparison takes both placements.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 20, time = 2)
@Fork(1)
public class QuantizedDecodePairBenchmark {
  @Param({"LLAMA2_7B_DKV16"})
  public DecodePreset preset;

  /** {@code mla}, or {@code mha}: the MHA baseline's decode over K/V caches of the same formats. */
  @Param({"mla"})
  public String attention;

  @Param({"4096"})
  public int context;

  /**
   * The second side: {@code int8}, {@code int4} or {@code fp8}; {@code bf16} runs BF16 against
   * itself, the A/A control that shows how far two identical sides drift apart.
   */
  @Param({"int8", "int4"})
  public String format;

  /** Elements per scale of the quantized format. */
  @Param({"64"})
  public int group;

  /** The group thread (0 or 1, JMH's order of the methods) that decodes BF16. */
  @Param({"0", "1"})
  public int bf16Slot;

  private Side slot0;
  private Side slot1;

  /** One format's one-thread backend and decode fixture (the same random data each side). */
  private record Side(Backend backend, DecodeFixture fixture, boolean mla)
      implements AutoCloseable {
    Side(DecodePreset preset, CacheFormat format, int context, boolean mla) {
      this(BenchBackends.open("simd", 1), new DecodeFixture(preset, context, 1, format, 42, mla,
          !mla), mla);
    }

    Tensor decode() {
      return mla ? fixture.mla(backend) : fixture.mha(backend);
    }

    @Override
    public void close() {
      fixture.close();
      backend.close();
    }
  }

  @Setup(Level.Trial)
  public void setUp() {
    boolean mla = switch (attention) {
      case "mla" -> true;
      case "mha" -> false;
      default -> throw new IllegalArgumentException("attention must be mla or mha: " + attention);
    };
    Side bf16 = new Side(preset, CacheFormat.plain(DType.BF16), context, mla);
    Side other = new Side(preset, CacheFormat.parse(format, group, 0, false), context, mla);
    slot0 = bf16Slot == 0 ? bf16 : other;
    slot1 = bf16Slot == 0 ? other : bf16;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    slot0.close();
    slot1.close();
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  public Tensor slot0() {
    return slot0.decode();
  }

  @Benchmark
  @Group("pair")
  @GroupThreads(1)
  public Tensor slot1() {
    return slot1.decode();
  }
}
