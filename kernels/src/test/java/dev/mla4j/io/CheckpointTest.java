package dev.mla4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path dir;

  private void shards() throws IOException {
    Arena a = Arena.ofAuto();
    new SafetensorsWriter().add("x", Tensor.copyOf(a, DType.F32, 1, 2, new float[] {1, 2}))
        .write(dir.resolve("s1.safetensors"));
    new SafetensorsWriter().add("y", Tensor.copyOf(a, DType.BF16, 1, 1, new float[] {3}))
        .write(dir.resolve("s2.safetensors"));
  }

  private void index(String json) throws IOException {
    Files.writeString(dir.resolve(Checkpoint.INDEX), "{\"metadata\":{},\"weight_map\":" + json
        + "}");
  }

  @Test
  void readsShardsThroughTheIndex() throws IOException {
    shards();
    index("{\"x\":\"s1.safetensors\",\"y\":\"s2.safetensors\"}");
    try (Checkpoint c = Checkpoint.open(dir)) {
      assertArrayEquals(new float[] {1, 2}, c.tensor("x").toFloatArray());
      assertEquals(3f, c.tensor("y").get(0, 0));
      assertEquals(2, c.paths().size());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> c.tensor("z"));
      assertTrue(e.getMessage().contains("'z'") && e.getMessage().contains(dir.toString()));
    }
  }

  @Test
  void refusesTensorMappedToMissingShard() throws IOException {
    shards();
    index("{\"x\":\"s1.safetensors\",\"y\":\"s3.safetensors\"}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.open(dir));
    assertTrue(e.getMessage().contains("'y'") && e.getMessage().contains("s3.safetensors"),
        e.getMessage());
  }

  @Test
  void refusesIndexThatMisplacesATensor() throws IOException {
    shards();
    index("{\"x\":\"s2.safetensors\",\"y\":\"s2.safetensors\"}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Checkpoint.open(dir));
    assertTrue(e.getMessage().contains("'x'"), e.getMessage());
  }

  @Test
  void singleFileCheckpoint() throws IOException {
    new SafetensorsWriter().add("w", Tensor.copyOf(Arena.ofAuto(), DType.F16, 1, 1,
        new float[] {0.5f})).write(dir.resolve(Checkpoint.SINGLE));
    try (Checkpoint c = Checkpoint.open(dir)) {
      assertEquals(0.5f, c.tensor("w").get(0, 0));
      assertEquals(null, c.tensorOrNull("b"));
    }
  }

  @Test
  void refusesFolderWithoutCheckpoint() {
    assertThrows(IllegalArgumentException.class, () -> Checkpoint.open(dir));
  }
}
