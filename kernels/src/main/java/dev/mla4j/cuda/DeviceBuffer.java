package dev.mla4j.cuda;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns {@code bytes} of device memory (cuMemAlloc_v2) until closed. Closing twice is harmless;
 * any use after close throws. {@link #live()} counts open buffers so tests can catch leaks.
 */
public final class DeviceBuffer implements AutoCloseable {
  private static final AtomicLong LIVE = new AtomicLong();

  private final CudaContext context;
  private final long bytes;
  private long pointer;

  DeviceBuffer(CudaContext context, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("device buffer needs > 0 bytes, got " + bytes);
    }
    this.context = context;
    this.bytes = bytes;
    context.makeCurrent();
    this.pointer = CudaDriver.memAlloc(bytes);
    LIVE.incrementAndGet();
  }

  /** Device buffers allocated and not yet closed, in this process. */
  public static long live() {
    return LIVE.get();
  }

  public long bytes() {
    return bytes;
  }

  /** The device address; throws if closed. */
  public long pointer() {
    if (pointer == 0) {
      throw new IllegalStateException("device buffer of " + bytes + " bytes used after close");
    }
    return pointer;
  }

  /** The device address {@code offset} bytes in, checked against the size. */
  public long pointer(long offset) {
    if (offset < 0 || offset > bytes) {
      throw new IndexOutOfBoundsException("offset " + offset + " outside buffer of " + bytes + " bytes");
    }
    return pointer() + offset;
  }

  /** Queues a copy of {@code src} to offset {@code dstOffset} of this buffer on {@code stream}. */
  public void upload(CudaStream stream, MemorySegment src, long dstOffset) {
    checkRange(dstOffset, src.byteSize());
    context.makeCurrent();
    CudaDriver.copyHtoD(pointer() + dstOffset, src, src.byteSize(), stream.handle());
  }

  /** Queues a copy of {@code dst.byteSize()} bytes from {@code srcOffset} into {@code dst}. */
  public void download(CudaStream stream, long srcOffset, MemorySegment dst) {
    checkRange(srcOffset, dst.byteSize());
    context.makeCurrent();
    CudaDriver.copyDtoH(dst, pointer() + srcOffset, dst.byteSize(), stream.handle());
  }

  /** Queues a device-to-device copy of {@code count} bytes from {@code src} into this buffer. */
  public void copyFrom(CudaStream stream, DeviceBuffer src, long count) {
    checkRange(0, count);
    src.checkRange(0, count);
    context.makeCurrent();
    CudaDriver.copyDtoD(pointer(), src.pointer(), count, stream.handle());
  }

  /** Queues a fill of the whole buffer with the 32-bit pattern {@code bits} (e.g. a NaN). */
  public void fill32(CudaStream stream, int bits) {
    context.makeCurrent();
    CudaDriver.memsetD32(pointer(), bits, bytes / 4, stream.handle());
  }

  private void checkRange(long offset, long count) {
    if (offset < 0 || count < 0 || offset + count > bytes) {
      throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + count)
          + ") outside device buffer of " + bytes + " bytes");
    }
  }

  @Override
  public void close() {
    if (pointer != 0) {
      context.makeCurrent();
      CudaDriver.memFree(pointer);
      pointer = 0;
      LIVE.decrementAndGet();
    }
  }
}
