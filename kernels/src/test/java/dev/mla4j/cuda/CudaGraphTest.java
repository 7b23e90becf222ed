package dev.mla4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.api.MlaShape;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.tensor.DType;
import dev.mla4j.testing.BackendCases;
import dev.mla4j.testing.Seeds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A captured decode step (the tensor-core MLA kernel over 16 key-range splits and its merge,
 * queued with programmatic dependent launch) replayed by {@link CudaGraph} against the same step
 * launched directly: the same bits, for the data on the device at the replay, not at the capture.
 * Failed captures leave the stream usable. The kernels' own accuracy is CudaBackendTest's.
 */
@Tag("gpu")
class CudaGraphTest {
  private static final MlaShape SHAPE = MlaShape.mha2mla(32, 32, 128, 8, 16);  // L = 512
  private static final int BATCH = 2;
  private static final int CONTEXT = 1024;
  private static final int BLOCKS_PER_SEQ = CONTEXT / PagedLayers.BLOCK_TOKENS;

  private static CudaContext ctx;
  private Arena arena;
  private CudaStream stream;
  private DevicePagedCache cache;
  private PagedAttention plan;
  private DeviceBuffer qa;
  private DeviceBuffer qb;
  private DeviceBuffer table;
  private DeviceBuffer firstPos;
  private DeviceBuffer out;

  @BeforeAll
  static void needsGpu() {
    BackendCases.assumeCuda();
    ctx = CudaContext.get();
  }

  @BeforeEach
  void setUp() {
    arena = Arena.ofConfined();
    stream = ctx.newStream();
    cache = new DevicePagedCache(ctx, DType.BF16, BATCH * BLOCKS_PER_SEQ, SHAPE.latentDim(),
        SHAPE.ropeKeyWidth());
    CudaOps.fillRandom(ctx, stream, cache.pool().pointer(), cache.pool().bytes() / 2,
        DType.BF16, 3);
    plan = PagedAttention.mlaTensorCore(ctx, SHAPE, cache, BATCH, 1, CONTEXT);
    qa = ctx.allocate(4L * BATCH * SHAPE.heads() * SHAPE.latentDim());
    qb = ctx.allocate(4L * BATCH * SHAPE.heads() * SHAPE.ropeDim());
    int[] ids = new int[BATCH * BLOCKS_PER_SEQ];
    Arrays.setAll(ids, i -> i);
    table = DeviceData.ints(ctx, arena, stream, ids);
    firstPos = ctx.allocate(4L * BATCH);
    out = ctx.allocate(4L * BATCH * SHAPE.heads() * SHAPE.latentDim());
  }

  @AfterEach
  void tearDown() {
    for (AutoCloseable c : new AutoCloseable[] {plan, qa, qb, table, firstPos, out, cache,
        stream}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
    arena.close();
  }

  private void step() {
    plan.launch(stream, qa.pointer(), qb.pointer(), table.pointer(), BLOCKS_PER_SEQ,
        firstPos.pointer(), out.pointer());
  }

  /** New queries (seeded by {@code name}) and each sequence's last position. */
  private void inputs(String name, int... lastPos) {
    Seeds.Case c = Seeds.forCase(name);
    upload(qa, MemorySegment.ofArray(c.gaussians((int) (qa.bytes() / 4), 0.05)));
    upload(qb, MemorySegment.ofArray(c.gaussians((int) (qb.bytes() / 4), 0.05)));
    upload(firstPos, MemorySegment.ofArray(lastPos));
  }

  private void upload(DeviceBuffer d, MemorySegment src) {
    MemorySegment h = arena.allocate(src.byteSize(), 16).copyFrom(src);
    d.upload(stream, h, 0);
  }

  private float[] output() {
    return DeviceData.download(arena, stream, out).toArray(JAVA_FLOAT);
  }

  private float[] outputCleared() {
    float[] got = output();
    upload(out, MemorySegment.ofArray(new float[got.length]));  // the next step must write it
    return got;
  }

  @Test
  void aReplayComputesWhatTheDirectLaunchDoesWithTheDataOfTheReplay() {
    inputs("graph A", CONTEXT - 1, CONTEXT - 1);
    step();
    float[] directA = outputCleared();
    try (CudaGraph graph = CudaGraph.capture(ctx, stream, this::step)) {
      float[] notRun = outputCleared();
      assertTrue(allZero(notRun), "capture ran the kernels");
      graph.launch(stream);
      assertArrayEquals(directA, outputCleared(), "replay with the capture's data");

      // other queries and a shorter first sequence: read from the device at the replay
      inputs("graph B", CONTEXT / 2 - 1, CONTEXT - 1);
      graph.launch(stream);
      float[] replayB = outputCleared();
      step();
      float[] directB = outputCleared();
      assertArrayEquals(directB, replayB, "replay with new queries and positions");
      assertFalse(Arrays.equals(directA, directB), "the new inputs changed nothing");
      graph.launch(stream);
      graph.launch(stream);
      assertArrayEquals(directB, outputCleared(), "replayed twice");
    }
  }

  @Test
  void aFailingCaptureLeavesTheStreamUsable() {
    inputs("graph C", CONTEXT - 1, CONTEXT - 1);
    step();
    float[] direct = outputCleared();
    IllegalStateException thrown = new IllegalStateException("the work failed");
    assertSame(thrown, assertThrows(IllegalStateException.class,
        () -> CudaGraph.capture(ctx, stream, () -> {
          step();
          throw thrown;
        })));
    CudaException waited = assertThrows(CudaException.class,
        () -> CudaGraph.capture(ctx, stream, () -> {
          step();
          stream.synchronize();
        }));
    assertTrue(waited.getMessage().contains("cuStreamSynchronize"), waited.getMessage());
    step();
    assertArrayEquals(direct, outputCleared(), "the stream after two failed captures");
  }

  @Test
  void aClosedGraphIsRefused() {
    CudaGraph graph = CudaGraph.capture(ctx, stream, this::step);
    graph.close();
    graph.close();
    assertThrows(IllegalStateException.class, () -> graph.launch(stream));
  }

  private static boolean allZero(float[] a) {
    for (float v : a) {
      if (v != 0) {
        return false;
      }
    }
    return true;
  }
}
