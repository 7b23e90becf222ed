package dev.mla4j.bench.report;

import dev.mla4j.bench.DecodePreset;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.DType;
import java.util.List;

/**
 * How a cache stores its elements, for the report's cache-size section: the bytes per token
 * (all layers) of the MLA cache and of the MHA baseline cache in this format. The report lists
 * one row per format; a quantized cache (int8/int4/fp8 with per-group scales) becomes one more
 * implementation added to {@link #standard()}, whose bytes must come from that cache's own class.
 */
public interface CacheFormat {
  /** Row label, e.g. {@code BF16}. */
  String name();

  /** Bytes per token over all layers of the preset's MLA cache in this format. */
  long mlaBytesPerToken(DecodePreset preset);

  /** Bytes per token over all layers of the preset's MHA/GQA baseline cache in this format. */
  long mhaBytesPerToken(DecodePreset preset);

  /**
   * The formats the library's caches have today: F32, BF16, and int8/fp8/int4 with BF16 group
   * scales; fp8 is OCP E4M3, the GPU's native 8-bit format, at int8's bytes (one byte per
   * element); the last row quantizes the MLA rope keys too, as the paper's int4 setting does
   * (spec 5.2), with groups of 128.
   */
  static List<CacheFormat> standard() {
    return List.of(new Plain(DType.F32), new Plain(DType.BF16),
        new Quantized(dev.mla4j.cache.CacheFormat.int8(64), dev.mla4j.cache.CacheFormat.int8(64)),
        new Quantized(dev.mla4j.cache.CacheFormat.fp8(64), dev.mla4j.cache.CacheFormat.fp8(64)),
        new Quantized(dev.mla4j.cache.CacheFormat.int4(64), dev.mla4j.cache.CacheFormat.int4(64)),
        new Quantized(dev.mla4j.cache.CacheFormat.int4(128).withQuantizedRopeKeys(),
            dev.mla4j.cache.CacheFormat.int4(128)));
  }

  /**
   * A quantized cache: the MLA cache in {@code mla}, the MHA baseline in {@code mha} (the same
   * codes and group size; an MHA cache has no separate rope keys). Bytes, scales included, are
   * what the caches report for themselves.
   */
  record Quantized(dev.mla4j.cache.CacheFormat mla, dev.mla4j.cache.CacheFormat mha)
      implements CacheFormat {
    @Override
    public String name() {
      return mla.quantization() + " g" + mla.groupSize()
          + (mla.quantizeRopeKeys() ? ", rope " + mla.quantization() : ", rope BF16");
    }

    @Override
    public long mlaBytesPerToken(DecodePreset preset) {
      try (LatentCache cache = new LatentCache(preset.mla(), preset.layers(), mla, 1)) {
        return cache.bytesPerToken();
      }
    }

    @Override
    public long mhaBytesPerToken(DecodePreset preset) {
      try (KvCache cache = new KvCache(preset.mha(), preset.layers(), mha, 1)) {
        return cache.bytesPerToken();
      }
    }
  }

  /**
   * An unquantized cache of {@code dtype}. The bytes are what {@link LatentCache} and
   * {@link KvCache} report for themselves, so the report shows what the library allocates, not
   * a second copy of the formula. Creating a cache allocates nothing until tokens are appended.
   */
  record Plain(DType dtype) implements CacheFormat {
    @Override
    public String name() {
      return dtype.name();
    }

    @Override
    public long mlaBytesPerToken(DecodePreset preset) {
      try (LatentCache cache = new LatentCache(preset.mla(), preset.layers(), dtype, 1)) {
        return cache.bytesPerToken();
      }
    }

    @Override
    public long mhaBytesPerToken(DecodePreset preset) {
      try (KvCache cache = new KvCache(preset.mha(), preset.layers(), dtype, 1)) {
        return cache.bytesPerToken();
      }
    }
  }
}
