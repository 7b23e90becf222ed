package dev.mla4j.bench.report;

import dev.mla4j.bench.DecodePreset;
import dev.mla4j.cache.KvCache;
import dev.mla4j.cache.LatentCache;
import dev.mla4j.tensor.DType;
import java.util.List;

/**
 * How a cache stores its elements, for the report's cache-size section: the bytes per token
 * (all layers) of the MLA cache and of the MHA baseline cache in this format. The report lists
 * one row per format; a quantized cache (int8/int4 with per-group scales) becomes one more
 * implementation added to {@link #standard()}, whose bytes must come from that cache's own class.
 */
public interface CacheFormat {
  /** Row label, e.g. {@code BF16}. */
  String name();

  /** Bytes per token over all layers of the preset's MLA cache in this format. */
  long mlaBytesPerToken(DecodePreset preset);

  /** Bytes per token over all layers of the preset's MHA/GQA baseline cache in this format. */
  long mhaBytesPerToken(DecodePreset preset);

  /** The formats the library's caches have today. */
  static List<CacheFormat> standard() {
    return List.of(new Plain(DType.F32), new Plain(DType.BF16));
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
