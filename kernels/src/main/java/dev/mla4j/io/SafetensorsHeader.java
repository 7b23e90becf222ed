package dev.mla4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates the JSON header of a safetensors file: every entry's dtype is known, its
 * shape matches its byte size and its bytes lie inside the data section without overlapping
 * another entry's.
 */
final class SafetensorsHeader {
  /** The format's own limit on the header, which also keeps a corrupt length from allocating. */
  static final long MAX_HEADER_BYTES = 100L << 20;

  private SafetensorsHeader() {}

  /**
   * @param json the header bytes
   * @param dataBytes size of the data section that follows the header
   * @return entries in header order, and the metadata (or an empty map)
   */
  static Map<String, TensorInfo> parse(Path file, byte[] json, long dataBytes,
      Map<String, String> metadata) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(json);
    } catch (JsonProcessingException e) {
      throw bad(file, "header is not well-formed JSON: " + e.getOriginalMessage());
    } catch (java.io.IOException e) {
      throw bad(file, "cannot parse header: " + e.getMessage());
    }
    if (root == null || !root.isObject()) {
      throw bad(file, "header is not a JSON object");
    }
    Map<String, TensorInfo> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : root.properties()) {
      if (e.getKey().equals("__metadata__")) {
        readMetadata(file, e.getValue(), metadata);
      } else {
        out.put(e.getKey(), entry(file, e.getKey(), e.getValue(), dataBytes));
      }
    }
    checkOverlaps(file, out);
    return Collections.unmodifiableMap(out);
  }

  private static void readMetadata(Path file, JsonNode n, Map<String, String> metadata) {
    if (!n.isObject()) {
      throw bad(file, "__metadata__ must be an object of strings");
    }
    for (Map.Entry<String, JsonNode> m : n.properties()) {
      if (!m.getValue().isTextual()) {
        throw bad(file, "__metadata__ value of '" + m.getKey() + "' is not a string");
      }
      metadata.put(m.getKey(), m.getValue().asText());
    }
  }

  private static TensorInfo entry(Path file, String name, JsonNode n, long dataBytes) {
    if (!n.isObject()) {
      throw bad(file, name, "entry is not an object");
    }
    JsonNode dt = n.get("dtype");
    if (dt == null || !dt.isTextual()) {
      throw bad(file, name, "missing dtype");
    }
    StoredType type = StoredType.parse(dt.asText());
    if (type == null) {
      throw bad(file, name, "unsupported dtype '" + dt.asText() + "' (supported: "
          + Arrays.toString(StoredType.values()) + ")");
    }
    long[] shape = longs(file, name, n.get("shape"), "shape", -1);
    long[] offsets = longs(file, name, n.get("data_offsets"), "data_offsets", 2);
    long begin = offsets[0];
    long end = offsets[1];
    if (begin > end || end > dataBytes) {
      throw bad(file, name, "data_offsets [" + begin + ", " + end
          + "] outside the data section of " + dataBytes + " bytes");
    }
    TensorInfo info = new TensorInfo(name, type, shape, begin, end);
    long expected;
    try {
      expected = Math.multiplyExact(info.elements(), type.bytes());
    } catch (ArithmeticException ex) {
      throw bad(file, name, "shape " + Arrays.toString(shape) + " overflows");
    }
    if (expected != end - begin) {
      throw bad(file, name, "shape " + Arrays.toString(shape) + " x " + type + " needs "
          + expected + " bytes but data_offsets give " + (end - begin));
    }
    return info;
  }

  private static long[] longs(Path file, String name, JsonNode n, String field, int length) {
    if (n == null || !n.isArray() || (length >= 0 && n.size() != length)) {
      throw bad(file, name, field + " must be an array"
          + (length >= 0 ? " of " + length + " integers" : " of integers"));
    }
    long[] out = new long[n.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode v = n.get(i);
      if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
        throw bad(file, name, field + " has a bad element " + v);
      }
      out[i] = v.longValue();
    }
    return out;
  }

  private static void checkOverlaps(Path file, Map<String, TensorInfo> entries) {
    List<TensorInfo> sorted = new ArrayList<>(entries.values());
    sorted.removeIf(t -> t.begin() == t.end());
    sorted.sort(Comparator.comparingLong(TensorInfo::begin));
    for (int i = 1; i < sorted.size(); i++) {
      TensorInfo a = sorted.get(i - 1);
      TensorInfo b = sorted.get(i);
      if (b.begin() < a.end()) {
        throw bad(file, b.name(), "bytes [" + b.begin() + ", " + b.end() + ") overlap tensor '"
            + a.name() + "' [" + a.begin() + ", " + a.end() + ")");
      }
    }
  }

  static IllegalArgumentException bad(Path file, String problem) {
    return new IllegalArgumentException(file + ": " + problem);
  }

  static IllegalArgumentException bad(Path file, String tensor, String problem) {
    return new IllegalArgumentException(file + ": tensor '" + tensor + "': " + problem);
  }
}
