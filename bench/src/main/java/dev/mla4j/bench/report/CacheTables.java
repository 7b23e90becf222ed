package dev.mla4j.bench.report;

import dev.mla4j.api.MlaShape;
import java.util.ArrayList;
import java.util.List;

/** The report's cache-size section (computed from the library's cache classes). */
final class CacheTables {
  private CacheTables() {}

  static void render(StringBuilder sb, List<CacheSizes.Row> rows, List<Integer> contexts,
      long budgetBytes) {
    String budget = Md.bytes(budgetBytes);
    sb.append("## Cache size (computed)\n\n")
        .append("Bytes per token of all layers, as `LatentCache` and `KvCache` report them for"
            + " what they allocate (spec 5.1: MLA `n_kv·d_r + L`, MHA `2·n_kv·d_h` elements per"
            + " layer), and the tokens of one sequence that fit in ").append(budget)
        .append(". Reduction = 1 − MLA/MHA in the same format; \"vs MHA BF16\" = 1 − MLA/(MHA in"
            + " BF16), the paper's \"KV Mem.\" column, whose int4 rows (−92.19%, −95.31%, −96.87%"
            + " for Llama-2-7B, spec 5.3) leave out the scales that the bytes here include."
            + " FP8 is OCP E4M3, the GPU's native 8-bit format: one byte per element like INT8,"
            + " so the same bytes.\n\n");
    java.util.Map<dev.mla4j.bench.DecodePreset, Long> bf16 = new java.util.HashMap<>();
    rows.stream().filter(r -> r.format().equals("BF16"))
        .forEach(r -> bf16.put(r.preset(), r.mhaBytesPerToken()));
    List<List<String>> table = new ArrayList<>();
    for (CacheSizes.Row r : rows) {
      Long base = bf16.get(r.preset());
      String vsBf16 = base == null ? "-"
          : Md.reduction(1 - (double) r.mlaBytesPerToken() / base);
      MlaShape s = r.preset().mla();
      table.add(List.of(r.preset().label(), r.preset().layers() + "",
          s.heads() + "/" + r.preset().mha().kvHeads() + "/" + r.preset().mha().headDim(),
          s.ropeKeyWidth() + " + " + s.latentDim(), r.format(), Md.count(r.mlaBytesPerToken()),
          Md.count(r.mhaBytesPerToken()), Md.reduction(r.reduction()), vsBf16,
          Md.count(r.mlaTokensFitting(budgetBytes)), Md.count(r.mhaTokensFitting(budgetBytes))));
    }
    Md.table(sb, List.of("preset", "layers", "n_h/n_kv/d_h", "MLA elems/layer (rope + L)",
        "format", "MLA B/token", "MHA B/token", "reduction", "vs MHA BF16", "MLA tokens in " + budget,
        "MHA tokens in " + budget), table);
    sb.append("Cache of one sequence at each context, BF16, all layers (MLA / MHA):\n\n");
    List<String> header = new ArrayList<>(List.of("preset"));
    contexts.forEach(n -> header.add("N = " + Md.tokens(n)));
    List<List<String>> totals = new ArrayList<>();
    for (CacheSizes.Row r : rows) {
      if (!r.format().equals("BF16")) {
        continue;
      }
      List<String> line = new ArrayList<>(List.of(r.preset().label()));
      contexts.forEach(n -> line.add(Md.bytes(r.mlaBytes(n)) + " / " + Md.bytes(r.mhaBytes(n))));
      totals.add(line);
    }
    Md.table(sb, header, totals);
  }
}
