package dev.mla4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mla4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The safetensors of a Hugging Face model folder: either one {@code model.safetensors} or the
 * shards listed in {@code model.safetensors.index.json} (each shard opened once). Tensors are
 * views of the mappings, valid until {@link #close()}.
 */
public final class Checkpoint implements AutoCloseable {
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";

  private final Path folder;
  private final List<SafetensorsFile> files;
  private final Map<String, SafetensorsFile> byTensor;

  private Checkpoint(Path folder, List<SafetensorsFile> files,
      Map<String, SafetensorsFile> byTensor) {
    this.folder = folder;
    this.files = files;
    this.byTensor = byTensor;
  }

  /** Opens the checkpoint in {@code folder} (sharded if it has an index, else single file). */
  public static Checkpoint open(Path folder) throws IOException {
    Path index = folder.resolve(INDEX);
    if (Files.exists(index)) {
      return openSharded(folder, index);
    }
    Path single = folder.resolve(SINGLE);
    if (!Files.exists(single)) {
      throw new IllegalArgumentException(folder + ": neither " + SINGLE + " nor " + INDEX
          + " found");
    }
    return of(folder, List.of(single));
  }

  /** Opens the given files as one checkpoint; a tensor name must not occur in two files. */
  public static Checkpoint of(Path folder, List<Path> paths) throws IOException {
    List<SafetensorsFile> files = new ArrayList<>();
    Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
    try {
      for (Path p : paths) {
        SafetensorsFile f = SafetensorsFile.open(p);
        files.add(f);
        for (String name : f.names()) {
          SafetensorsFile prev = byTensor.putIfAbsent(name, f);
          if (prev != null) {
            throw new IllegalArgumentException("tensor '" + name + "' is in both " + prev.path()
                + " and " + p);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      files.forEach(SafetensorsFile::close);
      throw e;
    }
    return new Checkpoint(folder, files, byTensor);
  }

  private static Checkpoint openSharded(Path folder, Path index) throws IOException {
    JsonNode map;
    try {
      map = new ObjectMapper().readTree(index.toFile()).get("weight_map");
    } catch (IOException e) {
      throw new IllegalArgumentException(index + ": cannot parse: " + e.getMessage(), e);
    }
    if (map == null || !map.isObject()) {
      throw new IllegalArgumentException(index + ": no weight_map object");
    }
    Map<String, String> shardOf = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : map.properties()) {
      if (!e.getValue().isTextual()) {
        throw new IllegalArgumentException(index + ": shard of '" + e.getKey()
            + "' is not a file name");
      }
      shardOf.put(e.getKey(), e.getValue().asText());
    }
    List<String> shards = shardOf.values().stream().distinct().toList();
    for (String s : shards) {
      Path p = folder.resolve(s);
      if (!p.normalize().startsWith(folder.normalize()) || !Files.isRegularFile(p)) {
        String tensor = shardOf.entrySet().stream().filter(e -> e.getValue().equals(s))
            .findFirst().orElseThrow().getKey();
        throw new IllegalArgumentException(index + ": tensor '" + tensor + "' maps to shard '"
            + s + "', which does not exist in " + folder);
      }
    }
    Checkpoint c = of(folder, shards.stream().map(folder::resolve).toList());
    for (Map.Entry<String, String> e : shardOf.entrySet()) {
      SafetensorsFile f = c.byTensor.get(e.getKey());
      if (f == null || !f.path().getFileName().toString().equals(e.getValue())) {
        c.close();
        throw new IllegalArgumentException(index + ": tensor '" + e.getKey() + "' maps to shard '"
            + e.getValue() + "' but is not in it");
      }
    }
    return c;
  }

  public Path folder() {
    return folder;
  }

  public Set<String> names() {
    return Collections.unmodifiableSet(byTensor.keySet());
  }

  public boolean has(String name) {
    return byTensor.containsKey(name);
  }

  /** The file holding {@code name}. */
  public SafetensorsFile file(String name) {
    SafetensorsFile f = byTensor.get(name);
    if (f == null) {
      throw new IllegalArgumentException(folder + ": no tensor '" + name + "' in the checkpoint ("
          + byTensor.size() + " tensors in " + files.size() + " file(s))");
    }
    return f;
  }

  public TensorInfo info(String name) {
    return file(name).info(name);
  }

  /** A 2-D view, see {@link SafetensorsFile#tensor(String)}. */
  public Tensor tensor(String name) {
    return file(name).tensor(name);
  }

  /** The tensor if present, else null (optional weights such as biases). */
  public Tensor tensorOrNull(String name) {
    return has(name) ? tensor(name) : null;
  }

  public List<Path> paths() {
    return files.stream().map(SafetensorsFile::path).toList();
  }

  @Override
  public void close() {
    files.forEach(SafetensorsFile::close);
  }
}
