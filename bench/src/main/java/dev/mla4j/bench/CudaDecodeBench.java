package dev.mla4j.bench;

import dev.mla4j.api.MhaShape;
import dev.mla4j.api.MlaShape;
import dev.mla4j.api.RopeKeyLayout;
import dev.mla4j.cache.CacheFormat;
import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.MlaNaivePrefill;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The GPU decode sweep of {@code native/results}: {@link CudaDecode} at the shapes,
 * batches 1/64/128 and contexts 4K..32K, written as CSV, with the device-to-device copy and
 * streaming-read ceilings.
 * Args: [csv path] [quick|quant]. {@code quant}: the MLA shapes each with a BF16, INT8, FP8 and
 * INT4 latent (group 64, BF16 scales) with BF16 rope keys, then the same with the rope keys
 * quantized like the latent ({@link CudaDecode#QUANTIZED}); the MHA shapes with BF16, INT8, FP8
 * and INT4 keys and values; batches 1 and 64 at 4K and 32K.
 * {@code one <case> <batch> <ctx> <format> [<case> <batch> <ctx> <format>]...}, format one of
 * bf16, int8, fp8, int4, int8+rope, fp8+rope, int4+rope (rope keys quantized too): one row
 * per group (case = index into the shape list, 0-5, or {@code mha:HxKVxD} for an MHA/GQA shape of
 * H heads, KV kv heads and d_h D), in one JVM: for a profiler to attach to one
 * kernel, or for an A/B that alternates class paths without paying the JVM start per row.
 * {@code read <GiB>...}: the streaming-read ceiling over buffers of those sizes (a long-context
 * cache is 8-40 GiB, the default probe 1 GiB). {@code prefill}: causal chunks of T = 64 and 512
 * query tokens at the end of a 4K or 32K context, batch 1, every shape (TFLOP/s from
 * {@link KernelCost#mlaPrefill}), and the MHA2MLA shapes' chunks in the naive form too
 * ({@link CudaNaivePrefill}). The report ({@code ReportMain}) runs the same measurement per preset.
 */
public final class CudaDecodeBench {
  private CudaDecodeBench() {}

  /** naive: the expansion of the MLA shapes' naive-form prefill; null for MHA. */
  private record Case(String name, MlaShape mla, MhaShape mha, MlaNaivePrefill.Dims naive) {
    /** Llama-2-7B's MHA2MLA layer at d_kv (32 heads, d_h 128, r 8), naive over its kv heads. */
    static Case llama(int dKv) {
      MlaShape s = MlaShape.mha2mla(32, 32, 128, 8, dKv);
      return new Case("MLA Llama2-7B d_kv" + dKv, s, null, MlaNaivePrefill.Dims.mha2mla(s, 128));
    }
  }

  public static void main(String[] args) throws IOException {
    Path csv = Path.of(args.length > 0 ? args[0] : "cuda-decode.csv");
    boolean quick = args.length > 1 && args[1].equals("quick");
    boolean quant = args.length > 1 && args[1].equals("quant");
    boolean one = args.length > 1 && args[1].equals("one");
    boolean prefill = args.length > 1 && args[1].equals("prefill");
    boolean reads = args.length > 1 && args[1].equals("read");
    if (reads && (args.length < 3 || !Arrays.stream(args, 2, args.length)
        .allMatch(a -> a.matches("[1-9][0-9]{0,3}")))) {
      throw new IllegalArgumentException("read: expected buffer sizes in GiB (1-9999) after the "
          + "csv path, got " + Arrays.toString(Arrays.copyOfRange(args, 2, args.length)));
    }
    if (one && (args.length < 6 || (args.length - 2) % 4 != 0)) {  // before any GPU work
      throw new IllegalArgumentException("one: expected groups of <case> <batch> <ctx> "
          + "<format> after the csv path, got " + (args.length - 2) + " arguments");
    }
    for (int a = 2; one && a < args.length; a += 4) {
      format(args[a + 3]);  // an unknown format fails here, not after the GPU work before it
      if (!args[a].matches("[0-5]|mha:[1-9][0-9]*x[1-9][0-9]*x[1-9][0-9]*")) {
        throw new IllegalArgumentException("one: case " + args[a]
            + " is neither an index 0-5 nor mha:HxKVxD");
      }
    }
    CudaContext ctx = CudaContext.get();
    System.out.println("device: " + ctx.describe() + ", L2 " + (ctx.l2Bytes() >> 20) + " MiB");
    List<String> lines = new ArrayList<>();
    lines.add("kind,shape,batch,ctx,splits,smem,median_us,p10_us,p90_us,GBps,TFLOPs,kernel,cache,"
        + "power_capped,host_bound");
    try (CudaStream stream = ctx.newStream()) {
      double copy = CudaDecode.copyCeilingGBps(ctx, stream);
      System.out.printf("device-to-device copy: %.0f GB/s (read + write)%n", copy);
      lines.add("copy,1GiB,,,,,,,," + String.format("%.1f", copy) + ",");
      double read = CudaDecode.readCeilingGBps(ctx, stream);
      System.out.printf("streaming read: %.0f GB/s%n", read);
      lines.add("read,1GiB,,,,,,,," + String.format("%.1f", read) + ",");
      if (reads) {  // the streaming read over each buffer size, in the order given
        for (int a = 2; a < args.length; a++) {
          double gbps = CudaDecode.readCeilingGBps(ctx, stream, Long.parseLong(args[a]) << 30);
          System.out.printf("streaming read, %s GiB: %.0f GB/s%n", args[a], gbps);
          lines.add("read," + args[a] + "GiB,,,,,,,," + String.format("%.1f", gbps) + ",");
        }
        Files.write(csv, lines);
        return;
      }
      if (!one) {
        double mma = CudaDecode.mmaSyncTflops(ctx, stream);
        System.out.printf("BF16 mma.sync m16n8k16: %.0f TFLOP/s%n", mma);
        lines.add("peak,mma.sync,,,,,,,,," + String.format("%.1f", mma) + ",");
        if (ctx.hasWgmma()) {
          double wg = CudaDecode.wgmmaTflops(ctx, stream);
          System.out.printf("BF16 wgmma m64n256k16: %.0f TFLOP/s%n", wg);
          lines.add("peak,wgmma,,,,,,,,," + String.format("%.1f", wg) + ",");
        }
      }
      float dsScale = (float) (1 / Math.sqrt(192));
      MlaShape ds = new MlaShape(128, 1, 64, 512, RopeKeyLayout.SHARED, dsScale);
      List<Case> cases = List.of(
          Case.llama(16), Case.llama(32), Case.llama(64),
          new Case("MLA DeepSeek 576/512", ds, null, new MlaNaivePrefill.Dims(128, 128, 128)),
          new Case("MHA Llama2-7B 32x128", null, MhaShape.of(32, 32, 128), null),
          new Case("MHA DeepSeek 128x128", null, MhaShape.of(128, 128, 128), null));
      if (one) {  // one or more (case, batch, context, format) groups, in one JVM
        for (int a = 2; a < args.length; a += 4) {
          Case c = oneCase(cases, args[a]);
          CacheFormat f = format(args[a + 3]);
          String line = csvLine(CudaDecode.measure(ctx, stream, c.name(), c.mla(), c.mha(), f,
              Integer.parseInt(args[a + 1]), 1, Integer.parseInt(args[a + 2])));
          System.out.println(line);
          lines.add(line);
        }
        Files.write(csv, lines);
        return;
      }
      if (prefill) {
        for (Case c : cases) {
          for (int tokens : new int[] {64, 512}) {
            for (int context : new int[] {4096, 32768}) {
              lines.add(csvLine(CudaDecode.measure(ctx, stream, c.name() + " T=" + tokens, c.mla(),
                  c.mha(), 1, tokens, context)));
              if (c.naive() != null) {
                lines.add(csvLine(CudaNaivePrefill.measure(ctx, stream, c.name() + " naive T="
                    + tokens, c.mla(), c.naive(), tokens, context)));
              }
            }
          }
        }
        Files.write(csv, lines);
        return;
      }
      int[] batches = quick || quant ? new int[] {1, 64} : new int[] {1, 64, 128};
      int[] contexts = quick || quant ? new int[] {4096, 32768} : new int[] {4096, 8192, 16384, 32768};
      List<CacheFormat> formats = new ArrayList<>(List.of(CudaDecode.PLAIN));
      if (quant) {
        formats.addAll(CudaDecode.QUANTIZED);
      }
      System.out.printf("%-22s %5s %6s %6s %10s %9s %8s%n", "shape", "batch", "ctx", "splits",
          "median us", "GB/s", "TFLOP/s");
      for (Case c : cases) {
        for (int batch : batches) {
          for (int context : contexts) {
            for (CacheFormat f : formats) {
              if (c.mla() == null && f.quantizeRopeKeys()) {
                continue;  // MHA has no rope keys
              }
              lines.add(csvLine(CudaDecode.measure(ctx, stream, c.name(), c.mla(), c.mha(), f,
                  batch, 1, context)));
            }
          }
        }
      }
    }
    Files.write(csv, lines);
  }

  /**
   * bf16, or a quantized format of the sweep ({@link CudaDecode#QUANTIZED}) by its
   * {@link #formatName}: int8, fp8, int4, int8+rope, fp8+rope, int4+rope.
   */
  static CacheFormat format(String name) {
    if (name.equals("bf16")) {
      return CudaDecode.PLAIN;
    }
    return CudaDecode.QUANTIZED.stream().filter(f -> formatName(f).equals(name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("one: format " + name + " is not bf16, "
            + String.join(", ", CudaDecode.QUANTIZED.stream().map(CudaDecodeBench::formatName)
                .toList())));
  }

  /** Case {@code spec} of {@code one}: an index into {@code cases}, or {@code mha:HxKVxD}. */
  static Case oneCase(List<Case> cases, String spec) {
    if (spec.startsWith("mha:")) {
      String[] d = spec.substring(4).split("x");
      if (d.length != 3) {
        throw new IllegalArgumentException(
            "one: expected mha:HxKVxD (e.g. mha:9x3x64), got " + spec);
      }
      int h = Integer.parseInt(d[0]);
      int kv = Integer.parseInt(d[1]);
      int dh = Integer.parseInt(d[2]);
      return new Case("MHA " + h + "x" + kv + "x" + dh, null, MhaShape.of(h, kv, dh), null);
    }
    return cases.get(Integer.parseInt(spec));
  }

  /** A quantized format's name on the command line: int8, or int8+rope with its rope keys. */
  static String formatName(CacheFormat f) {
    return f.quantization().name().toLowerCase(Locale.ROOT) + (f.quantizeRopeKeys() ? "+rope" : "");
  }

  private static String csvLine(CudaDecode.Row r) {
    if (r.skipped() != null) {
      System.out.printf("%-22s %5d %6d   skipped: %s%n", r.shape(), r.batch(), r.context(),
          r.skipped());
      return "skip," + r.shape() + "," + r.batch() + "," + r.context() + ",,,,,,,," + r.cacheFormat();
    }
    String capped = r.powerCapped() == null ? "" : String.format("%.3f", r.powerCapped());
    boolean host = Boolean.TRUE.equals(r.hostBound());
    System.out.printf("%-22s %5d %6d %6d %10.1f %9.0f %8.2f  %s %s%s%s%n", r.shape(), r.batch(),
        r.context(), r.splits(), r.medianMicros(), r.gbps(), r.tflops(), r.kernel(),
        r.cacheFormat(), capped.isEmpty() ? "" : ", power-capped " + capped,
        host ? ", host-bound (the launch path's time)" : "");
    return String.format("%s,%s,%d,%d,%d,%d,%.2f,%.2f,%.2f,%.1f,%.3f,%s,%s,%s,%s", r.kind(),
        r.shape(), r.batch(), r.context(), r.splits(), r.sharedBytes(), r.medianMicros(),
        r.p10Micros(), r.p90Micros(), r.gbps(), r.tflops(), r.kernel(), r.cacheFormat(), capped,
        r.hostBound() == null ? "" : r.hostBound());
  }
}
