package dev.mla4j.model;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates ../shared (models and data) by walking up from the working directory. */
final class SharedModels {
  private SharedModels() {}

  /** {@code shared/<relative>}, or the test is skipped with a message saying what is missing. */
  static Path require(String relative) {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null) {
      Path candidate = dir.resolve("shared").resolve(relative);
      if (Files.isDirectory(dir.resolve("shared/models")) && Files.exists(candidate)) {
        return candidate;
      }
      dir = dir.getParent();
    }
    assumeTrue(false, "shared/" + relative + " not found above " + Path.of("").toAbsolutePath()
        + "; skipping the reference check");
    return null;
  }
}
