package dev.mla4j.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.geom.Rectangle2D;
import java.text.DecimalFormat;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * The report's charts as SVG documents: JFreeChart draws into JFreeSVG's Graphics2D, so no
 * display or image codec is involved (the JVM runs headless).
 */
public final class Charts {
  static final int WIDTH = 760;
  static final int HEIGHT = 440;
  private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728),
      new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b),
      new Color(0xe377c2), new Color(0x7f7f7f)};

  static {
    System.setProperty("java.awt.headless", "true");
  }

  private Charts() {}

  /**
   * Lines over a log₂ x axis (contexts): {@code series} maps a name to its points
   * {@code {x, y}}, drawn in the map's order.
   *
   * @param logY whether the y axis is logarithmic (for values spanning decades)
   */
  public static String lines(String title, String xLabel, String yLabel,
      Map<String, double[][]> series, boolean logY) {
    XYSeriesCollection data = new XYSeriesCollection();
    series.forEach((name, points) -> {
      XYSeries s = new XYSeries(name);
      for (double[] p : points) {
        s.add(p[0], p[1]);
      }
      data.addSeries(s);
    });
    JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data,
        PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    LogAxis x = new LogAxis(xLabel);
    x.setBase(2);
    x.setNumberFormatOverride(new DecimalFormat("#,##0"));
    x.setSmallestValue(1);
    x.setTickUnit(new NumberTickUnit(1)); // one tick per power of two: 1,024, 2,048, ...
    plot.setDomainAxis(x);
    if (logY) {
      LogAxis y = new LogAxis(yLabel);
      y.setBase(2);
      y.setTickUnit(new NumberTickUnit(1));
      y.setNumberFormatOverride(new DecimalFormat("#,##0.###"));
      plot.setRangeAxis(y);
    } else {
      ((NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(true);
    }
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
      renderer.setSeriesStroke(i, new BasicStroke(2f));
    }
    plot.setRenderer(renderer);
    return svg(style(chart));
  }

  /**
   * Horizontal bars: {@code values} maps a series name to (category → value), so each category
   * gets one bar per series.
   */
  public static String bars(String title, String categoryLabel, String valueLabel,
      Map<String, Map<String, Double>> values) {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    values.forEach((series, byCategory) -> byCategory.forEach((category, v) ->
        data.addValue(v, series, category)));
    JFreeChart chart = ChartFactory.createBarChart(title, categoryLabel, valueLabel, data,
        PlotOrientation.HORIZONTAL, true, false, false);
    CategoryPlot plot = chart.getCategoryPlot();
    BarRenderer renderer = (BarRenderer) plot.getRenderer();
    renderer.setBarPainter(new StandardBarPainter());
    renderer.setShadowVisible(false);
    for (int i = 0; i < data.getRowCount(); i++) {
      renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
    }
    plot.getDomainAxis().setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
    return svg(style(chart), WIDTH, Math.max(HEIGHT, 120 + 26 * data.getColumnCount()));
  }

  private static JFreeChart style(JFreeChart chart) {
    chart.setBackgroundPaint(Color.WHITE);
    chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    chart.getPlot().setBackgroundPaint(Color.WHITE);
    if (chart.getPlot() instanceof XYPlot p) {
      p.setDomainGridlinePaint(Color.LIGHT_GRAY);
      p.setRangeGridlinePaint(Color.LIGHT_GRAY);
    } else if (chart.getPlot() instanceof CategoryPlot p) {
      p.setRangeGridlinePaint(Color.LIGHT_GRAY);
    }
    return chart;
  }

  private static String svg(JFreeChart chart) {
    return svg(chart, WIDTH, HEIGHT);
  }

  private static String svg(JFreeChart chart, int width, int height) {
    SVGGraphics2D g = new SVGGraphics2D(width, height);
    chart.draw(g, new Rectangle2D.Double(0, 0, width, height));
    return g.getSVGDocument();
  }
}
