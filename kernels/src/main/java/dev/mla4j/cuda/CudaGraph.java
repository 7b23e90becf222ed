package dev.mla4j.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Kernel launches recorded once from a stream and replayed with one call. A batch-1 decode step
 * queues its kernels (the attention and its split merge, the appends) one launch each, and on the
 * H100 the host's launch path costs about as much as those kernels run (bench
 * {@code CudaLaunchBenchmark}); a replay costs the host one {@code cuGraphLaunch}.
 *
 * <p>A replay runs the recorded kernels with the arguments they were launched with: the same
 * device buffers, shapes and plans. What changes between steps has to live in device memory those
 * kernels read, written before the replay: query rows, block tables and positions
 * ({@link PagedAttention#launch}'s {@code firstPos}, which sets each sequence's key count). A
 * plan's key-range splits are fixed at capture, so capture a plan made for the longest context
 * the graph will see.
 *
 * <pre>{@code
 * try (CudaGraph step = CudaGraph.capture(ctx, stream, () -> plan.launch(stream, q.pointer(),
 *     qRope.pointer(), table.pointer(), maxBlocks, firstPos.pointer(), out.pointer()))) {
 *   for (...) {  // this step's queries into q and qRope, its positions into firstPos, then
 *     firstPos.upload(stream, positions, 0);
 *     step.launch(stream);
 *   }
 * }
 * }</pre>
 */
public final class CudaGraph implements AutoCloseable {
  private final CudaContext context;
  private MemorySegment exec;

  private CudaGraph(CudaContext context, MemorySegment exec) {
    this.context = context;
    this.exec = exec;
  }

  /**
   * Records what {@code work} queues on {@code stream} (launches and copies, nothing that waits:
   * {@link CudaStream#synchronize} inside it fails) and instantiates it. Nothing runs on the GPU
   * during capture. When {@code work} or the capture fails, the stream leaves capture mode and
   * stays usable, and the failure is thrown.
   *
   * @throws CudaException when the driver cannot capture, or {@code work} queued what a graph
   *     cannot hold
   */
  public static CudaGraph capture(CudaContext context, CudaStream stream, Runnable work) {
    String missing = CudaDriver.graphsMissing();
    if (missing != null) {
      throw new CudaException("CUDA graphs are not available: " + missing);
    }
    context.makeCurrent();
    CudaDriver.beginCapture(stream.handle());
    MemorySegment graph;
    try {
      work.run();
    } catch (RuntimeException | Error e) {
      try {
        MemorySegment partial = CudaDriver.endCapture(stream.handle());
        if (!partial.equals(MemorySegment.NULL)) {
          CudaDriver.destroyGraph(partial);
        }
      } catch (CudaException ended) {
        e.addSuppressed(ended);
      }
      throw e;
    }
    try {
      graph = CudaDriver.endCapture(stream.handle());
    } catch (CudaException e) {
      throw new CudaException("capturing a CUDA graph: " + e.getMessage()
          + " (something in the captured work waited on the GPU or used another stream)", e);
    }
    try {
      return new CudaGraph(context, CudaDriver.instantiate(graph));
    } finally {
      CudaDriver.destroyGraph(graph);  // the instance holds what it needs
    }
  }

  /** Queues one replay of the recorded work on {@code stream}. */
  public void launch(CudaStream stream) {
    if (exec == null) {
      throw new IllegalStateException("CUDA graph used after close");
    }
    context.makeCurrent();
    CudaDriver.launchGraph(exec, stream.handle());
  }

  @Override
  public void close() {
    if (exec != null) {
      context.makeCurrent();
      CudaDriver.destroyGraphExec(exec);
      exec = null;
    }
  }
}
