package dev.mla4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects tensors and writes them as one safetensors file: the header (padded with spaces to a
 * multiple of 8 bytes, so the data starts aligned) then the tensors back to back in the order
 * added. The file is written to a temporary file in the destination folder and moved into place
 * atomically, so a failed write leaves an existing destination untouched; a destination that is
 * open for reading (e.g. the checkpoint being converted) is refused.
 */
public final class SafetensorsWriter {
  private record Entry(String name, Tensor tensor, long[] shape) {}

  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  /** Adds {@code t} with shape {@code [rows][cols]}. */
  public SafetensorsWriter add(String name, Tensor t) {
    return add(name, t, t.rows(), t.cols());
  }

  /** Adds {@code t} with the given shape, whose product must be rows x cols (e.g. {@code [d]}). */
  public SafetensorsWriter add(String name, Tensor t, long... shape) {
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("tensor '" + name + "': negative dim in "
            + Arrays.toString(shape));
      }
      n *= s;
    }
    if (n != (long) t.rows() * t.cols()) {
      throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
          + " does not match " + t.shape());
    }
    if (name.equals("__metadata__") || entries.putIfAbsent(name, new Entry(name, t,
        shape.clone())) != null) {
      throw new IllegalArgumentException("tensor name '" + name + "' is reserved or already added");
    }
    return this;
  }

  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /** Writes the file; see the class comment for the guarantees. */
  public void write(Path destination) throws IOException {
    Path dest = destination.toAbsolutePath().normalize();
    if (Files.exists(dest) && SafetensorsFile.isOpen(dest.toRealPath())) {
      throw new IllegalArgumentException(dest + " is open for reading (the source checkpoint?);"
          + " write the output to another path");
    }
    byte[] header = header();
    Path tmp = AtomicFiles.temporaryFor(dest);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        len.putLong(header.length).flip();
        writeFully(ch, len);
        writeFully(ch, ByteBuffer.wrap(header));
        for (Entry e : entries.values()) {
          writeData(ch, e.tensor());
        }
        ch.force(true);
      }
      AtomicFiles.publish(tmp, dest);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  private byte[] header() {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode m = root.putObject("__metadata__");
      metadata.forEach(m::put);
    }
    long offset = 0;
    for (Entry e : entries.values()) {
      ObjectNode n = root.putObject(e.name());
      n.put("dtype", StoredType.of(e.tensor().dtype()).name());
      ArrayNode shape = n.putArray("shape");
      for (long s : e.shape()) {
        shape.add(s);
      }
      long bytes = (long) e.tensor().rows() * e.tensor().cols() * e.tensor().dtype().bytes();
      n.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] raw;
    try {
      raw = json.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    int padded = (raw.length + 7) & ~7;
    byte[] out = Arrays.copyOf(raw, padded);
    Arrays.fill(out, raw.length, padded, (byte) ' ');
    return out;
  }

  /** Writes a tensor's rows in order (a strided view is compacted). */
  private static void writeData(FileChannel ch, Tensor t) throws IOException {
    long rowBytes = (long) t.cols() * t.dtype().bytes();
    if (t.rows() <= 1 || t.rowStride() == t.cols()) {
      writeSegment(ch, t.data().asSlice(0, t.rows() * rowBytes));
      return;
    }
    for (int i = 0; i < t.rows(); i++) {
      writeSegment(ch, t.data().asSlice(t.offset(i, 0), rowBytes));
    }
  }

  private static void writeSegment(FileChannel ch, MemorySegment s) throws IOException {
    final long chunk = 1 << 24;
    for (long off = 0; off < s.byteSize(); off += chunk) {
      MemorySegment part = s.asSlice(off, Math.min(chunk, s.byteSize() - off));
      writeFully(ch, part.asByteBuffer());
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  /** Names added so far, in write order. */
  public List<String> names() {
    return new ArrayList<>(entries.keySet());
  }
}
