package dev.mla4j.io;

import dev.mla4j.tensor.DType;
import java.util.Arrays;

/** Element types mla4j reads from safetensors files; I32 only as plain ints (token ids). */
public enum StoredType {
  F32(4, DType.F32),
  BF16(2, DType.BF16),
  F16(2, DType.F16),
  I32(4, null);

  private final int bytes;
  private final DType dtype;

  StoredType(int bytes, DType dtype) {
    this.bytes = bytes;
    this.dtype = dtype;
  }

  public int bytes() {
    return bytes;
  }

  /** The kernels' storage type, or null for I32. */
  public DType dtype() {
    return dtype;
  }

  public static StoredType of(DType t) {
    return valueOf(t.name());
  }

  /** Parses a safetensors dtype string; null when unknown. */
  static StoredType parse(String name) {
    return Arrays.stream(values()).filter(v -> v.name().equals(name)).findFirst().orElse(null);
  }
}
