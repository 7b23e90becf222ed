package dev.mla4j.bench;

import dev.mla4j.cuda.CudaContext;
import dev.mla4j.cuda.CudaEvent;
import dev.mla4j.cuda.CudaOps;
import dev.mla4j.cuda.CudaStream;
import dev.mla4j.cuda.DeviceBuffer;
import dev.mla4j.cuda.DeviceLinear;
import dev.mla4j.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The projection GEMMs on device-resident buffers, cuBLAS ({@link DeviceLinear.Route#CUBLAS},
 * x rounding included) against linear.cu ({@link DeviceLinear.Route#KERNEL}), BF16 weights, at
 * the MLA projection shapes and T = 1, 64, 2048. Args: [csv path].
 *
 * <p>Per case: weight and activation sets rotated so the bytes touched exceed the L2 several
 * times; 5 warm-up calls; batches of {@link #BATCH} calls, each call bracketed by events, after a
 * fill of a 4 GiB buffer that keeps the GPU busy while the host queues the batch (so the events
 * see GPU time, not launch gaps; a batch whose queueing outlasted the GPU's work is flagged
 * {@code host_bound}); the median over all calls. Bytes = W (BF16) + x (F32, read) + y (F32,
 * written); FLOPs = 2·T·rows·cols.
 */
public final class CudaProjectionBench {
  private static final int BATCH = 50;
  private static final long ROTATE_BYTES = 256L << 20;
  private static final long LEAD_BYTES = 4L << 30;
  private static final DType WEIGHTS = DType.BF16;

  private CudaProjectionBench() {}

  /** W [rows][cols]; transposed: y = x W, else y = x Wᵀ. */
  private record Shape(String name, int rows, int cols, boolean transposed) {
    int k() {
      return transposed ? rows : cols;
    }

    int m() {
      return transposed ? cols : rows;
    }
  }

  private record Timing(double medianUs, double p10Us, double p90Us, boolean hostBound) {}

  public static void main(String[] args) throws IOException {
    Path csv = Path.of(args.length > 0 ? args[0] : "cuda-projection.csv");
    List<Shape> shapes = List.of(
        new Shape("down d4096->L512 W[512][4096]", 512, 4096, false),
        new Shape("up L512->d4096 W[4096][512]", 4096, 512, false),
        new Shape("DSv2 down 5120->512 W[512][5120]", 512, 5120, false),
        new Shape("xW 4096->512 W[4096][512]", 4096, 512, true));
    int[] tokens = {1, 64, 2048};
    CudaContext ctx = CudaContext.get();
    List<String> lines = new ArrayList<>();
    lines.add("shape,transposed,rows,cols,T,route,median_us,p10_us,p90_us,GBps,TFLOPs,host_bound");
    try (CudaStream stream = ctx.newStream(); DeviceLinear linear = DeviceLinear.open(ctx, stream);
        DeviceBuffer lead = ctx.allocate(LEAD_BYTES)) {
      System.out.println("device: " + ctx.describe() + "; " + linear.describe());
      double copy = CudaDecode.copyCeilingGBps(ctx, stream);
      System.out.printf("ceilings: device-to-device copy %.0f GB/s (read + write)", copy);
      lines.add("copy-ceiling,,,,,,,,," + String.format("%.1f", copy) + ",,");
      if (linear.cublasUnavailableReason().isEmpty()) {
        Timing big = measure(ctx, stream, linear, lead, DeviceLinear.Route.CUBLAS,
            new Shape("square", 8192, 8192, false), 8192);
        double tflops = 2.0 * 8192 * 8192 * 8192 / (big.medianUs() * 1e-6) / 1e12;
        System.out.printf(", cuBLAS BF16 8192^3 GEMM %.0f TFLOP/s (x rounding included)", tflops);
        lines.add(String.format("gemm-ceiling,false,8192,8192,8192,cublas,%.2f,,,,%.1f,",
            big.medianUs(), tflops));
      }
      System.out.println();
      System.out.printf("%-34s %5s %11s %11s %7s %9s %9s %8s %8s%n", "shape (BF16 weights)", "T",
          "kernel us", "cublas us", "speedup", "kern GB/s", "cubl GB/s", "kern TF", "cubl TF");
      for (Shape s : shapes) {
        for (int t : tokens) {
          double[] us = new double[2];
          double[] gbps = new double[2];
          double[] tflops = new double[2];
          for (DeviceLinear.Route route : DeviceLinear.Route.values()) {
            int r = route == DeviceLinear.Route.KERNEL ? 0 : 1;
            if (route == DeviceLinear.Route.CUBLAS && linear.cublasUnavailableReason().isPresent()) {
              us[r] = Double.NaN;
              continue;
            }
            Timing tm = measure(ctx, stream, linear, lead, route, s, t);
            double bytes = (double) s.rows() * s.cols() * WEIGHTS.bytes()
                + (double) t * (s.k() + s.m()) * Float.BYTES;
            double flops = 2.0 * t * s.rows() * s.cols();
            us[r] = tm.medianUs();
            gbps[r] = bytes / (tm.medianUs() * 1e-6) / 1e9;
            tflops[r] = flops / (tm.medianUs() * 1e-6) / 1e12;
            lines.add(String.format("%s,%b,%d,%d,%d,%s,%.2f,%.2f,%.2f,%.1f,%.3f,%b", s.name(),
                s.transposed(), s.rows(), s.cols(), t, route.name().toLowerCase(), tm.medianUs(),
                tm.p10Us(), tm.p90Us(), gbps[r], tflops[r], tm.hostBound()));
          }
          System.out.printf("%-34s %5d %11.1f %11.1f %6.2fx %9.0f %9.0f %8.2f %8.2f%n", s.name(), t,
              us[0], us[1], us[0] / us[1], gbps[0], gbps[1], tflops[0], tflops[1]);
        }
      }
    }
    Files.write(csv, lines);
    System.out.println("wrote " + csv);
  }

  /**
   * Times {@code route} on shape {@code s} with {@code t} tokens; before timing, checks the route
   * against the other one on the same inputs (both finite, relative difference under 1e-2).
   */
  private static Timing measure(CudaContext ctx, CudaStream stream, DeviceLinear linear,
      DeviceBuffer lead, DeviceLinear.Route route, Shape s, int t) {
    long wBytes = (long) s.rows() * s.cols() * WEIGHTS.bytes();
    long xBytes = (long) t * s.k() * Float.BYTES;
    int sets = (int) Math.max(2, Math.min(64, (ROTATE_BYTES + wBytes + xBytes - 1) / (wBytes + xBytes)));
    try (DeviceBuffer w = ctx.allocate(sets * wBytes); DeviceBuffer x = ctx.allocate(sets * xBytes);
        DeviceBuffer y = ctx.allocate((long) t * s.m() * Float.BYTES)) {
      CudaOps.fillRandom(ctx, stream, w.pointer(), sets * wBytes / 2, WEIGHTS, 7);
      CudaOps.fillRandom(ctx, stream, x.pointer(), sets * xBytes / 4, DType.F32, 11);
      if (s.rows() * (long) t < 1L << 24) {
        agree(ctx, stream, linear, s, t, w.pointer(), x.pointer(), y);
      }
      int[] call = {0};
      Runnable work = () -> {
        int i = call[0]++ % sets;
        linear.linear(route, s.transposed(), x.pointer(i * xBytes), s.k(), w.pointer(i * wBytes),
            s.cols(), WEIGHTS, s.rows(), s.cols(), y.pointer(), s.m(), t);
      };
      for (int i = 0; i < 5; i++) {
        work.run();
      }
      double[] probe = batch(ctx, stream, lead, work, 3).ms;
      double probeMs = CudaDecode.median(probe);
      int batches = (int) Math.max(1, Math.min(4, Math.ceil(300 / Math.max(1e-3, probeMs) / BATCH)));
      List<Double> all = new ArrayList<>();
      boolean hostBound = false;
      for (int b = 0; b < batches; b++) {
        Batch r = batch(ctx, stream, lead, work, probeMs > 20 ? 5 : BATCH);
        hostBound |= r.hostBound;
        for (double v : r.ms) {
          all.add(v);
        }
      }
      double[] ms = all.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      return new Timing(CudaDecode.median(ms) * 1e3, ms[ms.length / 10] * 1e3, ms[ms.length * 9 / 10] * 1e3,
          hostBound);
    }
  }

  private record Batch(double[] ms, boolean hostBound) {}

  /** {@code n} calls after the lead fill, each bracketed by events. */
  private static Batch batch(CudaContext ctx, CudaStream stream, DeviceBuffer lead, Runnable work,
      int n) {
    CudaEvent[] ev = new CudaEvent[n + 2];
    try {
      for (int i = 0; i < ev.length; i++) {
        ev[i] = ctx.newEvent();
      }
      stream.synchronize();
      long host0 = System.nanoTime();
      ev[0].record(stream);
      lead.fill32(stream, 0);
      ev[1].record(stream);
      for (int i = 0; i < n; i++) {
        work.run();
        ev[i + 2].record(stream);
      }
      double hostMs = (System.nanoTime() - host0) * 1e-6;
      ev[n + 1].synchronize();
      double[] ms = new double[n];
      for (int i = 0; i < n; i++) {
        ms[i] = ev[i + 2].millisSince(ev[i + 1]);
      }
      double gpuMs = ev[n + 1].millisSince(ev[0]);
      return new Batch(ms, hostMs > gpuMs);
    } finally {
      for (CudaEvent e : ev) {
        if (e != null) {
          e.close();
        }
      }
    }
  }

  /** Both routes on the first set: finite, and within BF16 rounding of x of each other. */
  private static void agree(CudaContext ctx, CudaStream stream, DeviceLinear linear, Shape s,
      int t, long w, long x, DeviceBuffer y) {
    if (linear.cublasUnavailableReason().isPresent()) {
      return;
    }
    float[][] out = new float[2][];
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment h = arena.allocate(y.bytes(), 16);
      for (DeviceLinear.Route route : DeviceLinear.Route.values()) {
        y.fill32(stream, Float.floatToRawIntBits(Float.NaN));
        linear.linear(route, s.transposed(), x, s.k(), w, s.cols(), WEIGHTS, s.rows(), s.cols(),
            y.pointer(), s.m(), t);
        y.download(stream, 0, h);
        stream.synchronize();
        out[route.ordinal()] = h.toArray(ValueLayout.JAVA_FLOAT);
      }
    }
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < out[0].length; i++) {
      if (!Float.isFinite(out[0][i]) || !Float.isFinite(out[1][i])) {
        throw new IllegalStateException(s.name() + " T " + t + ": non-finite output at " + i);
      }
      diff += Math.pow(out[0][i] - out[1][i], 2);
      norm += Math.pow(out[1][i], 2);
    }
    if (Math.sqrt(diff / norm) > 1e-2) {
      throw new IllegalStateException(s.name() + " T " + t + ": cuBLAS and linear.cu differ by "
          + Math.sqrt(diff / norm) + " (relative)");
    }
  }
}
