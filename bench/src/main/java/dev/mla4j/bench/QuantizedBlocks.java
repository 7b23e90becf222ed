package dev.mla4j.bench;

import dev.mla4j.cache.PagedLayers;
import dev.mla4j.cache.QuantizedLayout;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DevicePagedCache;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Bench data for a quantized cache part: codes and scales made by {@link QuantizedLayout#quantize}
 * from Gaussian rows (so FP8 codes are real E4M3 values, never NaN, and scales are positive),
 * {@value #PATTERNS} distinct blocks repeated over the pool, uploaded in chunks. The other
 * parts keep what the caller put there.
 */
final class QuantizedBlocks {
  private static final int PATTERNS = 16;
  private static final long CHUNK_BYTES = 64L << 20;

  private QuantizedBlocks() {}

  static void fill(Arena arena, CudaStream stream, DevicePagedCache cache, int part, long seed) {
    QuantizedLayout layout = cache.quantization(part);
    int tokens = PagedLayers.BLOCK_TOKENS;
    long codeBytes = (long) tokens * layout.rowBytes();
    long scaleBytes = 2L * tokens * layout.scalesPerRow();
    MemorySegment patterns = arena.allocate(PATTERNS * (codeBytes + scaleBytes) + 16, 16);
    SplittableRandom random = new SplittableRandom(seed);
    float[] row = new float[layout.width()];
    for (int k = 0; k < PATTERNS; k++) {
      long base = k * (codeBytes + scaleBytes);
      for (int t = 0; t < tokens; t++) {
        double magnitude = Math.exp(random.nextGaussian()); // scales vary across tokens
        for (int i = 0; i < row.length; i++) {
          row[i] = (float) (random.nextGaussian() * magnitude);
        }
        layout.quantize(row, 0, patterns, base + t * (long) layout.rowBytes(),
            base + codeBytes + 2L * t * layout.scalesPerRow());
      }
    }
    // Whole blocks per chunk: download the chunk, patch the part, upload it back.
    long blockBytes = cache.blockBytes();
    int perChunk = (int) Math.max(1, CHUNK_BYTES / blockBytes);
    MemorySegment staging = arena.allocate(perChunk * blockBytes, 16);
    for (int b0 = 0; b0 < cache.blocks(); b0 += perChunk) {
      int n = Math.min(perChunk, cache.blocks() - b0);
      MemorySegment chunk = staging.asSlice(0, n * blockBytes);
      cache.pool().download(stream, b0 * blockBytes, chunk);
      stream.synchronize();
      for (int b = 0; b < n; b++) {
        long src = ((b0 + b) % PATTERNS) * (codeBytes + scaleBytes);
        long dst = b * blockBytes;
        MemorySegment.copy(patterns, src, chunk, dst + cache.partOffset(part), codeBytes);
        MemorySegment.copy(patterns, src + codeBytes, chunk, dst + cache.scalesOffset(part),
            scaleBytes);
      }
      cache.pool().upload(stream, chunk, b0 * blockBytes);
      stream.synchronize();
    }
  }
}
