package dev.mla4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path dir;

  /** A file with the given header JSON followed by {@code dataBytes} bytes of 1s. */
  private Path raw(String name, String header, int dataBytes) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    while (b.hasRemaining()) {
      b.put((byte) 1);
    }
    Path p = dir.resolve(name);
    Files.write(p, b.array());
    return p;
  }

  private static String entry(String name, String dtype, String shape, long begin, long end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape
        + ",\"data_offsets\":[" + begin + "," + end + "]}";
  }

  private String failure(Path p) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SafetensorsFile.open(p).close());
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    return e.getMessage();
  }

  @Test
  void roundTripKeepsValuesShapesAndMetadata() throws IOException {
    Arena arena = Arena.ofAuto();
    float[] v = {1.5f, -2.25f, 3.0f, 0.1f, 7f, -0.5f};
    Tensor f32 = Tensor.copyOf(arena, DType.F32, 2, 3, v);
    Tensor bf16 = Tensor.copyOf(arena, DType.BF16, 3, 2, v);
    Tensor f16 = Tensor.copyOf(arena, DType.F16, 1, 6, v);
    Tensor big = Tensor.copyOf(arena, DType.F32, 4, 4, new float[16]);
    Tensor strided = big.cols(1, 2);
    strided.set(2, 1, 42f);
    Path out = dir.resolve("rt.safetensors");
    new SafetensorsWriter().add("a", f32).add("b", bf16).add("norm", f16, 6)
        .add("s", strided).metadata("format", "pt").write(out);
    assertEquals(0, (Files.size(out) - 8 - 4 * 6 - 2 * 6 - 2 * 6 - 4 * 8) % 8, "header padded");
    try (SafetensorsFile f = SafetensorsFile.open(out)) {
      assertEquals(List.of("a", "b", "norm", "s"), List.copyOf(f.names()));
      assertEquals("pt", f.metadata().get("format"));
      assertArrayEquals(v, f.tensor("a").toFloatArray());
      assertArrayEquals(bf16.toFloatArray(), f.tensor("b").toFloatArray());
      assertEquals(DType.BF16, f.tensor("b").dtype());
      assertArrayEquals(new long[] {6}, f.info("norm").shape());
      assertEquals(1, f.tensor("norm").rows());
      assertArrayEquals(f16.toFloatArray(), f.tensor("norm").toFloatArray());
      assertArrayEquals(strided.toFloatArray(), f.tensor("s").toFloatArray());
      assertEquals(42f, f.tensor("s").get(2, 1));
    }
  }

  @Test
  void readsI32() throws IOException {
    Path p = raw("ids.safetensors", "{" + entry("ids", "I32", "[3]", 0, 12) + "}", 0);
    ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(7).putInt(-1)
        .putInt(300);
    byte[] all = Files.readAllBytes(p);
    byte[] withData = java.util.Arrays.copyOf(all, all.length + 12);
    System.arraycopy(b.array(), 0, withData, all.length, 12);
    Files.write(p, withData);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      assertArrayEquals(new int[] {7, -1, 300}, f.ints("ids"));
      assertThrows(IllegalArgumentException.class, () -> f.tensor("ids"));
    }
  }

  @Test
  void refusesFileShorterThanTheLengthField() throws IOException {
    Path p = dir.resolve("short.safetensors");
    Files.write(p, new byte[5]);
    assertTrue(failure(p).contains("too short"));
  }

  @Test
  void refusesHeaderLengthPastTheEnd() throws IOException {
    Path p = raw("len.safetensors", "{}", 0);
    byte[] b = Files.readAllBytes(p);
    b[0] = 100;
    Files.write(p, b);
    assertTrue(failure(p).contains("header length 100"));
  }

  @Test
  void refusesTruncatedData() throws IOException {
    Path p = raw("trunc.safetensors", "{" + entry("w", "F32", "[2,2]", 0, 16) + "}", 10);
    String m = failure(p);
    assertTrue(m.contains("'w'") && m.contains("outside the data section of 10 bytes"), m);
  }

  @Test
  void refusesMalformedJson() throws IOException {
    assertTrue(failure(raw("json.safetensors", "{\"w\":{\"dtype\":", 0)).contains("JSON"));
  }

  @Test
  void refusesUnknownDtypeNamingIt() throws IOException {
    String m = failure(raw("f64.safetensors", "{" + entry("w", "F64", "[2]", 0, 16) + "}", 16));
    assertTrue(m.contains("'w'") && m.contains("'F64'"), m);
  }

  @Test
  void refusesOutOfRangeOffsets() throws IOException {
    String m = failure(raw("range.safetensors", "{" + entry("w", "F32", "[1]", 8, 4) + "}", 16));
    assertTrue(m.contains("data_offsets [8, 4]"), m);
  }

  @Test
  void refusesOverlappingTensors() throws IOException {
    String m = failure(raw("overlap.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + ","
        + entry("b", "F32", "[2]", 4, 12) + "}", 12));
    assertTrue(m.contains("overlap") && m.contains("'a'") && m.contains("'b'"), m);
  }

  @Test
  void refusesShapeSizeMismatch() throws IOException {
    String m = failure(raw("size.safetensors", "{" + entry("w", "BF16", "[3,2]", 0, 8) + "}", 8));
    assertTrue(m.contains("'w'") && m.contains("needs 12 bytes"), m);
  }

  @Test
  void missingTensorNamesFileAndTensor() throws IOException {
    Path p = raw("one.safetensors", "{" + entry("w", "F32", "[1]", 0, 4) + "}", 4);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> f.tensor("nope"));
      assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("'nope'"));
    }
  }

  @Test
  void refusesToWriteOverAnOpenFile() throws IOException {
    Path p = raw("src.safetensors", "{" + entry("w", "F32", "[1]", 0, 4) + "}", 4);
    byte[] before = Files.readAllBytes(p);
    try (SafetensorsFile f = SafetensorsFile.open(p)) {
      SafetensorsWriter w = new SafetensorsWriter().add("w", f.tensor("w"));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> w.write(dir.resolve(".").resolve("src.safetensors")));
      assertTrue(e.getMessage().contains("open for reading"), e.getMessage());
    }
    assertArrayEquals(before, Files.readAllBytes(p));
  }

  @Test
  void failedWriteLeavesDestinationUntouched() throws IOException {
    Path dest = raw("dest.safetensors", "{}", 0);
    byte[] before = Files.readAllBytes(dest);
    Arena arena = Arena.ofConfined();
    Tensor t = Tensor.allocate(arena, DType.F32, 4, 4);
    SafetensorsWriter w = new SafetensorsWriter().add("ok", Tensor.copyOf(Arena.ofAuto(),
        DType.F32, 1, 2, new float[] {1, 2})).add("gone", t);
    arena.close(); // the second tensor's memory is gone: the write fails half way
    assertThrows(IllegalStateException.class, () -> w.write(dest));
    assertArrayEquals(before, Files.readAllBytes(dest));
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(dest), files.toList(), "temporary file left behind");
    }
  }
}
