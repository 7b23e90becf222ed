package dev.mla4j.cuda;

import dev.mla4j.api.Backend;
import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.attention.MhaKernel;
import dev.mla4j.attention.MlaKernel;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.cache.PagedLayers;
import dev.mla4j.rope.PartialRope;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The CUDA backend behind the host-tensor API: each call copies its operands to the device,
 * runs the kernels on this backend's stream, waits, and copies the result back. Host caches are
 * mirrored block by block, as stored (quantized codes and scales included), into device caches
 * for the call ({@link HostCacheMirror}; the simplest correct form, {@link PagedAttention} over
 * device-resident caches is the fast path). Every {@link dev.mla4j.cache.CacheFormat} runs.
 * Work is on the GPU, so the CPU thread count is 1.
 */
public final class CudaBackend extends Backend {
  private static final int NAN_BITS = Float.floatToRawIntBits(Float.NaN);

  private final CudaContext context;
  private final CudaStream stream;

  /** @param threads ignored: the GPU does the work; kept for the Backends signature */
  public CudaBackend(int threads) {
    super(1);
    this.context = CudaContext.get();
    this.stream = context.newStream();
  }

  /** Empty when this backend can run here, otherwise why not. */
  public static Optional<String> unavailableReason() {
    return CudaContext.unavailableReason();
  }

  public CudaContext context() {
    return context;
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public String description() {
    return "cuda on " + context.describe();
  }

  @Override
  protected void linearBody(Tensor x, Tensor w, Tensor y) {
    linearOnDevice(false, x, w, y);
  }

  @Override
  protected void linearTransposedBody(Tensor x, Tensor w, Tensor y) {
    linearOnDevice(true, x, w, y);
  }

  private void linearOnDevice(boolean transposed, Tensor x, Tensor w, Tensor y) {
    if (y.rows() == 0 || y.cols() == 0) {
      return;
    }
    try (Arena arena = Arena.ofConfined();
        DeviceBuffer dx = upload(arena, x);
        DeviceBuffer dw = upload(arena, w);
        DeviceBuffer dy = context.allocate((long) y.rows() * y.cols() * Float.BYTES)) {
      CudaOps.linear(context, stream, transposed, dx.pointer(), x.cols(), dw.pointer(), w.cols(),
          w.dtype(), w.rows(), w.cols(), dy.pointer(), y.cols(), x.rows());
      download(arena, dy, y);
    }
  }

  @Override
  protected void ropeBody(Tensor x, int[] positions, PartialRope rope, int layer, int groupSize) {
    int r = rope.pairs();
    int heads = x.cols() / (2 * r);
    float[] invFreq = new float[rope.kvHeads() * r];
    for (int j = 0; j < rope.kvHeads(); j++) {
      System.arraycopy(rope.keptInvFreq(layer, j), 0, invFreq, j * r, r);
    }
    int[] first = new int[r];
    int[] second = new int[r];
    for (int m = 0; m < r; m++) {
      first[m] = rope.layout().first(m, r);
      second[m] = rope.layout().second(m, r);
    }
    try (Arena arena = Arena.ofConfined();
        DeviceBuffer dx = upload(arena, x);
        DeviceBuffer dpos = upload(arena, MemorySegment.ofArray(positions));
        DeviceBuffer dfreq = upload(arena, MemorySegment.ofArray(invFreq));
        DeviceBuffer dfirst = upload(arena, MemorySegment.ofArray(first));
        DeviceBuffer dsecond = upload(arena, MemorySegment.ofArray(second))) {
      CudaOps.rope(context, stream, dx.pointer(), x.cols(), x.rows(), heads, r, groupSize,
          dpos.pointer(), dfreq.pointer(), dfirst.pointer(), dsecond.pointer(),
          rope.attentionFactor());
      download(arena, dx, x);
    }
  }

  @Override
  public void mlaAttention(MlaShape shape, Tensor qRope, Tensor qLatent, LatentCache cache,
      int layer, int firstQueryPos, Tensor out) {
    int tokens = checkMla(shape, qRope, qLatent, cache, out);
    cache.checkQueries(layer, firstQueryPos, tokens);
    int keys = firstQueryPos + tokens;
    try (Arena arena = Arena.ofConfined();
        HostCacheMirror mirror = HostCacheMirror.of(context, stream, arena, cache, layer, keys);
        DeviceBuffer qa = upload(arena, qLatent);
        DeviceBuffer qb = upload(arena, qRope)) {
      attend(arena, mirror, (dc, maxKeys, generic) -> PagedAttention.mla(context, shape, dc, 1,
          tokens, maxKeys), qa, shape.ropeDim() > 0 ? qb.pointer() : 0L, keys, firstQueryPos, out);
    }
  }

  @Override
  public void mhaAttention(MhaShape shape, Tensor q, KvCache cache, int layer, int firstQueryPos,
      Tensor out) {
    int tokens = checkMha(shape, q, cache, out);
    cache.checkQueries(layer, firstQueryPos, tokens);
    int keys = firstQueryPos + tokens;
    try (Arena arena = Arena.ofConfined();
        HostCacheMirror mirror = HostCacheMirror.of(context, stream, arena, cache, layer, keys);
        DeviceBuffer qa = upload(arena, q)) {
      attend(arena, mirror, (dc, maxKeys, generic) -> generic
          ? PagedAttention.mhaGeneric(context, shape, dc, 1, tokens, maxKeys)
          : PagedAttention.mha(context, shape, dc, 1, tokens, maxKeys), qa, 0L, keys,
          firstQueryPos, out);
    }
  }

  /**
   * A plan over one device cache of the mirror, for at most {@code maxKeys} keys; on the generic
   * kernel when {@code generic} (partial states, key limits), as every MLA plan here is.
   */
  private interface Plans {
    PagedAttention over(DevicePagedCache cache, int maxKeys, boolean generic);
  }

  /**
   * One sequence, identity block tables; the output is poisoned with NaN before the launch. A
   * mirror with both caches runs two plans, the blocks' limited to the quantized positions and the
   * window's with its positions shifted by {@code split}, writing partial states that one
   * log-sum-exp merge combines: the same sums as one pass, in another order.
   */
  private void attend(Arena arena, HostCacheMirror mirror, Plans plans, DeviceBuffer qa, long qb,
      int keys, int firstQueryPos, Tensor out) {
    int split = mirror.split;
    int[] table = new int[(Math.max(split, keys - split) + PagedLayers.BLOCK_TOKENS - 1)
        / PagedLayers.BLOCK_TOKENS];
    java.util.Arrays.setAll(table, i -> i);
    try (DeviceBuffer dtable = upload(arena, MemorySegment.ofArray(table));
        DeviceBuffer dfirst = upload(arena, MemorySegment.ofArray(
            new int[] {firstQueryPos, firstQueryPos - split}));
        DeviceBuffer dout = context.allocate((long) out.rows() * out.cols() * Float.BYTES)) {
      dout.fill32(stream, NAN_BITS);
      if (mirror.window == null || mirror.blocks == null) {
        // one cache; a window-only mirror has split 0, so positions are unshifted
        try (PagedAttention plan = plans.over(mirror.blocks != null ? mirror.blocks
            : mirror.window, keys, false)) {
          plan.launch(stream, qa.pointer(), qb, dtable.pointer(), table.length, dfirst.pointer(),
              dout.pointer());
          download(arena, dout, out);
        }
        return;
      }
      try (PagedAttention head = plans.over(mirror.blocks, split, true).limitKeys(split);
          PagedAttention tail = plans.over(mirror.window, keys - split, true);
          DeviceBuffer acc = context.allocate((long) (head.splits() + tail.splits())
              * head.rows() * head.valueWidth() * Float.BYTES);
          DeviceBuffer ml = context.allocate(
              (long) (head.splits() + tail.splits()) * head.rows() * 2 * Float.BYTES)) {
        head.launchPartial(stream, qa.pointer(), qb, dtable.pointer(), table.length,
            dfirst.pointer(), acc.pointer(), ml.pointer());
        tail.launchPartial(stream, qa.pointer(), qb, dtable.pointer(), table.length,
            dfirst.pointer(Integer.BYTES),
            acc.pointer((long) head.splits() * head.rows() * head.valueWidth() * Float.BYTES),
            ml.pointer((long) head.splits() * head.rows() * 2 * Float.BYTES));
        PagedAttention.mergeSplits(context, stream, acc.pointer(), ml.pointer(), head.rows(),
            head.valueWidth(), head.splits() + tail.splits(), dout.pointer());
        download(arena, dout, out);
      }
    }
  }

  /** A device copy of {@code t} with dense rows ({@code [rows][cols]}, no row gaps). */
  private DeviceBuffer upload(Arena arena, Tensor t) {
    long rowBytes = (long) t.cols() * t.dtype().bytes();
    MemorySegment dense = arena.allocate(Math.max(1, rowBytes * t.rows()), 16);
    for (int r = 0; r < t.rows(); r++) {
      MemorySegment.copy(t.data(), t.offset(r, 0), dense, r * rowBytes, rowBytes);
    }
    return upload(arena, dense);
  }

  private DeviceBuffer upload(Arena arena, MemorySegment host) {
    DeviceBuffer d = context.allocate(Math.max(16, host.byteSize()));
    if (host.byteSize() > 0) {
      MemorySegment offHeap = arena.allocate(host.byteSize(), 16);
      offHeap.copyFrom(host);
      d.upload(stream, offHeap, 0);
    }
    return d;
  }

  /** Waits for the stream, then copies dense F32 {@code [rows][cols]} from {@code d} into {@code t}. */
  private void download(Arena arena, DeviceBuffer d, Tensor t) {
    long rowBytes = (long) t.cols() * Float.BYTES;
    MemorySegment dense = arena.allocate(Math.max(1, rowBytes * t.rows()), 16);
    d.download(stream, 0, dense.asSlice(0, rowBytes * t.rows()));
    stream.synchronize();
    for (int r = 0; r < t.rows(); r++) {
      MemorySegment.copy(dense, r * rowBytes, t.data(), t.offset(r, 0), rowBytes);
    }
  }

  @Override
  protected MlaKernel mlaKernel() {
    throw new AssertionError("CudaBackend overrides mlaAttention; the CPU kernel SPI is unused");
  }

  @Override
  protected MhaKernel mhaKernel() {
    throw new AssertionError("CudaBackend overrides mhaAttention; the CPU kernel SPI is unused");
  }

  @Override
  public void close() {
    stream.close();
    super.close();
  }
}
