package dev.mla4j.cli;

import java.util.function.IntConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr for one long step; {@link #step()} reports "n done". */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;

  Progress(String task, long total, String unit) {
    this.bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
        .setStyle(ProgressBarStyle.ASCII).setUnit(" " + unit, 1).setUpdateIntervalMillis(500)
        .continuousUpdate().build();
  }

  /** A consumer of "n items done so far". */
  IntConsumer step() {
    return bar::stepTo;
  }

  @Override
  public void close() {
    bar.close();
  }
}
