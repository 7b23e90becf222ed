package dev.mla4j.cuda;

import java.lang.foreign.MemorySegment;

/** A CUDA event, for timing stream work ({@link #millisSince}) and for explicit waits. */
public final class CudaEvent implements AutoCloseable {
  private final CudaContext context;
  private MemorySegment handle;

  CudaEvent(CudaContext context) {
    this.context = context;
    context.makeCurrent();
    this.handle = CudaDriver.createEvent();
  }

  private MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("CUDA event used after close");
    }
    return handle;
  }

  /** Records this event at the current end of {@code stream}'s queue. */
  public void record(CudaStream stream) {
    context.makeCurrent();
    CudaDriver.record(handle(), stream.handle());
  }

  public void synchronize() {
    context.makeCurrent();
    CudaDriver.synchronizeEvent(handle());
  }

  /** Milliseconds from {@code start} to this event; both must have completed. */
  public float millisSince(CudaEvent start) {
    context.makeCurrent();
    return CudaDriver.elapsedMillis(start.handle(), handle());
  }

  @Override
  public void close() {
    if (handle != null) {
      context.makeCurrent();
      CudaDriver.destroyEvent(handle);
      handle = null;
    }
  }
}
