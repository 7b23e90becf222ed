package dev.mla4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.xml.sax.InputSource;

/** The charts are well-formed SVG documents that name their series and axes. */
class ChartsTest {
  @TempDir
  Path dir;

  static Document parse(String xml) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    // well-formedness only: do not fetch the SVG 1.1 DTD its DOCTYPE names (no network in CI)
    f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    return f.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
  }

  @Test
  void lineChartIsSvgWithSeriesNames() throws Exception {
    Map<String, double[][]> series = new LinkedHashMap<>();
    series.put("MLA d_kv 16 (simd)", new double[][] {{1024, 10}, {4096, 35}});
    series.put("MHA/GQA (simd)", new double[][] {{1024, 20}, {4096, 80}});
    String svg = Charts.lines("Decode", "context N (tokens)", "decode step (µs)", series, true);
    Document doc = parse(svg);
    assertEquals("svg", doc.getDocumentElement().getLocalName());
    String text = doc.getDocumentElement().getTextContent();
    assertTrue(text.contains("MLA d_kv 16 (simd)") && text.contains("MHA/GQA (simd)"), text);
    // the rotated y label and the tick labels are drawn as outlines, not text
    assertTrue(text.contains("context N (tokens)"), text);
  }

  @Test
  void barChartIsSvgWithCategoriesAndSeries() throws Exception {
    Map<String, Map<String, Double>> values = new LinkedHashMap<>();
    values.put("MHA/GQA", Map.of("Llama-2-7B d_kv 16", 0.03));
    values.put("MLA", Map.of("Llama-2-7B d_kv 16", 0.26));
    String text = parse(Charts.bars("Tokens", "preset", "tokens (millions)", values))
        .getDocumentElement().getTextContent();
    assertTrue(text.contains("MHA/GQA") && text.contains("MLA")
        && text.contains("Llama-2-7B d_kv 16") && text.contains("tokens (millions)"), text);
  }

  @Test
  void reportChartsAreAllWellFormed() throws Exception {
    Map<String, String> charts = ReportCharts.write(dir,
        MarkdownReportTest.data(MarkdownReportTest.synthetic(dir), null));
    assertTrue(charts.containsKey("decode-smollm-135m.svg"), charts.toString());
    assertTrue(charts.containsKey("cache-llama-2-7b.svg"), charts.toString());
    assertTrue(charts.containsKey("tokens-in-budget.svg"), charts.toString());
    for (String file : charts.keySet()) {
      Document doc = parse(Files.readString(dir.resolve(file)));
      assertEquals("svg", doc.getDocumentElement().getLocalName(), file);
    }
    String decode = parse(Files.readString(dir.resolve("decode-smollm-135m.svg")))
        .getDocumentElement().getTextContent();
    assertTrue(decode.contains("MLA d_kv 16 (simd)") && decode.contains("MHA/GQA (simd)"), decode);
  }
}
