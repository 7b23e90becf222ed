package dev.mla4j.attention;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs a batch of independent kernel tasks on a fixed set of threads: the caller runs the first
 * task itself while {@code threads - 1} daemon workers take the rest, so a 2-thread backend
 * uses both cores without an idle waiting thread.
 */
public final class TaskRunner implements AutoCloseable {
  private final int threads;
  private final ExecutorService workers;

  public TaskRunner(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("threads must be > 0, got " + threads);
    }
    this.threads = threads;
    this.workers = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
      Thread t = new Thread(r, "mla4j-worker");
      t.setDaemon(true);
      return t;
    });
  }

  public int threads() {
    return threads;
  }

  /** Runs every task and returns when all are done; the first failure is rethrown. */
  public void runAll(List<Runnable> tasks) {
    if (tasks.isEmpty()) {
      return;
    }
    if (workers == null || tasks.size() == 1) {
      tasks.forEach(Runnable::run);
      return;
    }
    List<Future<?>> pending = new ArrayList<>(tasks.size() - 1);
    for (int i = 1; i < tasks.size(); i++) {
      pending.add(workers.submit(tasks.get(i)));
    }
    RuntimeException failure = null;
    try {
      tasks.get(0).run();
    } catch (RuntimeException e) {
      failure = e;
    }
    for (Future<?> f : pending) {
      try {
        f.get();
      } catch (ExecutionException e) {
        if (failure == null) {
          failure = e.getCause() instanceof RuntimeException re ? re
              : new IllegalStateException("kernel task failed", e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for kernel tasks", e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  @Override
  public void close() {
    if (workers != null) {
      workers.shutdownNow();
    }
  }
}
