package dev.mla4j.io;

import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One safetensors file, memory-mapped read-only in a shared arena (so backend worker threads may
 * read its tensors). Tensors are views of the mapping, valid until {@link #close()}.
 */
public final class SafetensorsFile implements AutoCloseable {
  /** Real paths of the files currently open (with counts), so a writer can refuse them. */
  private static final Map<Path, Integer> OPEN = new ConcurrentHashMap<>();

  private final Path file;
  private final Path realPath;
  private final Arena arena;
  private final MemorySegment data;
  private final Map<String, TensorInfo> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path file, Path realPath, Arena arena, MemorySegment data,
      Map<String, TensorInfo> entries, Map<String, String> metadata) {
    this.file = file;
    this.realPath = realPath;
    this.arena = arena;
    this.data = data;
    this.entries = entries;
    this.metadata = metadata;
  }

  /**
   * Maps and validates {@code file}.
   *
   * @throws IllegalArgumentException naming the file (and tensor) when it is malformed
   * @throws IOException when it cannot be read
   */
  public static SafetensorsFile open(Path file) throws IOException {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("safetensors needs a little-endian machine");
    }
    Path real = file.toRealPath();
    Arena arena = Arena.ofShared();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 8) {
        throw SafetensorsHeader.bad(file, "file of " + size + " bytes is too short for a header");
      }
      MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      long headerLength = all.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
      if (headerLength < 2 || headerLength > SafetensorsHeader.MAX_HEADER_BYTES
          || headerLength > size - 8) {
        throw SafetensorsHeader.bad(file, "header length " + Long.toUnsignedString(headerLength)
            + " does not fit in a file of " + size + " bytes (truncated or not safetensors?)");
      }
      byte[] json = all.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
      MemorySegment data = all.asSlice(8 + headerLength);
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> entries =
          SafetensorsHeader.parse(file, json, data.byteSize(), metadata);
      OPEN.merge(real, 1, Integer::sum);
      return new SafetensorsFile(file, real, arena, data, entries,
          Collections.unmodifiableMap(metadata));
    } catch (IOException | RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  /** Whether {@code path} is currently open through some SafetensorsFile. */
  static boolean isOpen(Path realPath) {
    return OPEN.containsKey(realPath);
  }

  public Path path() {
    return file;
  }

  /** Tensor names in header order. */
  public Set<String> names() {
    return entries.keySet();
  }

  public boolean has(String name) {
    return entries.containsKey(name);
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public TensorInfo info(String name) {
    TensorInfo t = entries.get(name);
    if (t == null) {
      throw new IllegalArgumentException(file + ": no tensor '" + name + "' (the file has "
          + entries.size() + " tensors)");
    }
    return t;
  }

  /**
   * A 2-D view of a float tensor: shape {@code [a, ..., z]} becomes {@code [a·...][z]}, a 1-D
   * {@code [n]} becomes {@code [1][n]}.
   */
  public Tensor tensor(String name) {
    TensorInfo t = info(name);
    if (t.type().dtype() == null) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + t.type()
          + ", not a float tensor");
    }
    if (t.rows() > Integer.MAX_VALUE || t.cols() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(file + ": tensor '" + t.describe()
          + "' is too large for a 2-D view");
    }
    return Tensor.of(bytes(t), t.type().dtype(), (int) t.rows(), (int) t.cols());
  }

  /** An I32 tensor's elements. */
  public int[] ints(String name) {
    TensorInfo t = info(name);
    if (t.type() != StoredType.I32) {
      throw new IllegalArgumentException(file + ": tensor '" + name + "' is " + t.type()
          + ", not I32");
    }
    return bytes(t).toArray(ValueLayout.JAVA_INT_UNALIGNED);
  }

  /** The raw bytes of a tensor, a view of the mapping. */
  public MemorySegment bytes(TensorInfo t) {
    return data.asSlice(t.begin(), t.end() - t.begin());
  }

  @Override
  public void close() {
    if (arena.scope().isAlive()) {
      OPEN.computeIfPresent(realPath, (p, n) -> n == 1 ? null : n - 1);
      arena.close();
    }
  }
}
