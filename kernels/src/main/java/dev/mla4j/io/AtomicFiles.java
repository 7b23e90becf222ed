package dev.mla4j.io;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Output files are written to a temporary file beside their destination and then moved into
 * place in one step, so a failure never leaves a half-written or damaged file behind.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** A new temporary file in {@code dest}'s folder, to be {@link #publish published} as dest. */
  public static Path temporaryFor(Path dest) throws IOException {
    return Files.createTempFile(dest.toAbsolutePath().getParent(), "." + dest.getFileName(),
        ".tmp");
  }

  /**
   * Moves the finished {@code tmp} over {@code dest} atomically, readable by everyone like any
   * other output file (temporary files start owner-only).
   */
  public static void publish(Path tmp, Path dest) throws IOException {
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
    }
    Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
