package dev.mla4j.cuda;

import java.lang.foreign.MemorySegment;

/** A CUDA stream: work queued on it runs in order; {@link #synchronize()} is the only wait. */
public final class CudaStream implements AutoCloseable {
  private final CudaContext context;
  private MemorySegment handle;

  CudaStream(CudaContext context) {
    this.context = context;
    context.makeCurrent();
    this.handle = CudaDriver.createStream();
  }

  MemorySegment handle() {
    if (handle == null) {
      throw new IllegalStateException("CUDA stream used after close");
    }
    return handle;
  }

  /** Blocks until everything queued on this stream has finished; reports asynchronous errors. */
  public void synchronize() {
    context.makeCurrent();
    CudaDriver.synchronize(handle());
  }

  @Override
  public void close() {
    if (handle != null) {
      context.makeCurrent();
      CudaDriver.destroyStream(handle);
      handle = null;
    }
  }
}
