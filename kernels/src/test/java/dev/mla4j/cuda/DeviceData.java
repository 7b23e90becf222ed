package dev.mla4j.cuda;

import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** Device copies of test inputs: int tables, dense F32 tensors; the caller closes them. */
final class DeviceData {
  private DeviceData() {}

  static DeviceBuffer ints(CudaContext ctx, Arena arena, CudaStream s, int[] values) {
    return bytes(ctx, arena, s, MemorySegment.ofArray(values));
  }

  /** The tensors' data one after the other (dense tensors: their rows as stored). */
  static DeviceBuffer floats(CudaContext ctx, Arena arena, CudaStream s, List<Tensor> parts) {
    long bytes = 0;
    for (Tensor t : parts) {
      bytes += t.data().byteSize();
    }
    MemorySegment h = arena.allocate(Math.max(16, bytes), 16);
    long off = 0;
    for (Tensor t : parts) {
      MemorySegment.copy(t.data(), 0, h, off, t.data().byteSize());
      off += t.data().byteSize();
    }
    return bytes(ctx, arena, s, h);
  }

  static DeviceBuffer bytes(CudaContext ctx, Arena arena, CudaStream s, MemorySegment src) {
    DeviceBuffer d = ctx.allocate(Math.max(16, src.byteSize()));
    MemorySegment h = arena.allocate(Math.max(16, src.byteSize()), 16);
    h.asSlice(0, src.byteSize()).copyFrom(src);
    d.upload(s, h.asSlice(0, src.byteSize()), 0);
    return d;
  }

  /** Waits for {@code s}, then returns a host copy of all of {@code d}. */
  static MemorySegment download(Arena arena, CudaStream s, DeviceBuffer d) {
    MemorySegment h = arena.allocate(d.bytes(), 16);
    d.download(s, 0, h);
    s.synchronize();
    return h;
  }
}
