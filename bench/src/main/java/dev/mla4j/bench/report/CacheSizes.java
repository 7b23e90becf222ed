package dev.mla4j.bench.report;

import dev.mla4j.bench.DecodePreset;
import java.util.ArrayList;
import java.util.List;

/**
 * The report's computed (not measured) cache sizes: per preset and {@link CacheFormat}, bytes
 * per token, total bytes at a context, tokens that fit in a memory budget, and MLA's reduction
 * against the MHA/GQA cache it replaces (spec 5.1). One sequence, all layers.
 */
public final class CacheSizes {
  private CacheSizes() {}

  /**
   * @param mlaBytesPerToken MLA cache bytes per token, all layers
   * @param mhaBytesPerToken baseline cache bytes per token, all layers
   */
  public record Row(DecodePreset preset, String format, long mlaBytesPerToken,
      long mhaBytesPerToken) {

    /** 1 − MLA/MHA: the paper's "KV Mem." reduction as a fraction (0.875 for −87.5%). */
    public double reduction() {
      return 1 - (double) mlaBytesPerToken / mhaBytesPerToken;
    }

    public long mlaBytes(long tokens) {
      return mlaBytesPerToken * tokens;
    }

    public long mhaBytes(long tokens) {
      return mhaBytesPerToken * tokens;
    }

    /** Whole tokens of MLA cache that fit in {@code budgetBytes}. */
    public long mlaTokensFitting(long budgetBytes) {
      return budgetBytes / mlaBytesPerToken;
    }

    /** Whole tokens of baseline cache that fit in {@code budgetBytes}. */
    public long mhaTokensFitting(long budgetBytes) {
      return budgetBytes / mhaBytesPerToken;
    }
  }

  /** One row per preset and format, presets outer. */
  public static List<Row> compute(List<DecodePreset> presets, List<CacheFormat> formats) {
    List<Row> rows = new ArrayList<>();
    for (DecodePreset p : presets) {
      for (CacheFormat f : formats) {
        rows.add(new Row(p, f.name(), f.mlaBytesPerToken(p), f.mhaBytesPerToken(p)));
      }
    }
    return rows;
  }
}
