package dev.mla4j.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Token files for calibration and evaluation. {@code bytes}: any file, token id = byte value
 * (byte-level models such as tiny-code-mha). {@code u32}: a flat array of little-endian unsigned
 * 32-bit token ids (e.g. numpy {@code ids.astype('<u4').tofile(path)}) for models with a
 * tokenizer, which mla4j does not run itself.
 */
enum Tokens {
  BYTES, U32;

  static Tokens parse(String name) {
    return switch (name.toLowerCase(java.util.Locale.ROOT)) {
      case "bytes" -> BYTES;
      case "u32" -> U32;
      default -> throw new IllegalArgumentException(
          "--tokens " + name + ": unknown token file format (use bytes or u32)");
    };
  }

  int[] read(Path file, int vocab) throws IOException {
    byte[] raw = Files.readAllBytes(file);
    int[] ids;
    if (this == BYTES) {
      ids = new int[raw.length];
      for (int i = 0; i < raw.length; i++) {
        ids[i] = raw[i] & 0xff;
      }
    } else {
      if (raw.length % 4 != 0) {
        throw new IllegalArgumentException(file + ": " + raw.length
            + " bytes is not a whole number of u32 token ids");
      }
      ids = new int[raw.length / 4];
      ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(ids);
    }
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw new IllegalArgumentException(file + ": token " + Integer.toUnsignedString(ids[i])
            + " at index " + i + " is outside the model's vocabulary of " + vocab
            + (this == BYTES ? " (byte tokens need a byte-level model; use --tokens u32)" : ""));
      }
    }
    return ids;
  }
}
