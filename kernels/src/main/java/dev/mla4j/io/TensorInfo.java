package dev.mla4j.io;

import java.util.Arrays;

/**
 * One entry of a safetensors header.
 *
 * @param begin byte offset of the first element, relative to the data section
 * @param end byte offset just past the last element, relative to the data section
 */
public record TensorInfo(String name, StoredType type, long[] shape, long begin, long end) {

  public long elements() {
    long n = 1;
    for (long s : shape) {
      n = Math.multiplyExact(n, s);
    }
    return n;
  }

  /** Rows when viewed as 2-D: the product of all dims but the last (1 for 0-D and 1-D). */
  public long rows() {
    long n = 1;
    for (int i = 0; i < shape.length - 1; i++) {
      n *= shape[i];
    }
    return n;
  }

  /** The last dim, 1 for a scalar. */
  public long cols() {
    return shape.length == 0 ? 1 : shape[shape.length - 1];
  }

  public String describe() {
    return name + " " + type + Arrays.toString(shape);
  }
}
