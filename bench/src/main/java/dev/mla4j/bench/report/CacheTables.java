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
        .append(". Reduction = 1 − MLA/MHA, the paper's \"KV Mem.\" column.\n\n");
    List<List<String>> table = new ArrayList<>();
    for (CacheSizes.Row r : rows) {
      MlaShape s = r.preset().mla();
      table.add(List.of(r.preset().label(), r.preset().layers() + "",
          s.heads() + "/" + r.preset().mha().kvHeads() + "/" + r.preset().mha().headDim(),
          s.ropeKeyWidth() + " + " + s.latentDim(), r.format(), Md.count(r.mlaBytesPerToken()),
          Md.count(r.mhaBytesPerToken()), Md.reduction(r.reduction()),
          Md.count(r.mlaTokensFitting(budgetBytes)), Md.count(r.mhaTokensFitting(budgetBytes))));
    }
    Md.table(sb, List.of("preset", "layers", "n_h/n_kv/d_h", "MLA elems/layer (rope + L)",
        "dtype", "MLA B/token", "MHA B/token", "reduction", "MLA tokens in " + budget,
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
