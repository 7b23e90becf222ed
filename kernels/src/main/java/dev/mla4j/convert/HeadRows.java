package dev.mla4j.convert;

import dev.mla4j.tensor.DType;
import dev.mla4j.tensor.Tensor;
import java.lang.foreign.Arena;

/**
 * Splits per-head rows of a projection into the compact rope part and the nope part (spec 2.4,
 * 3.1): per head, rope rows are the kept pairs' first elements in ascending pair order, then their
 * second elements; nope rows are the remaining head dims in ascending order.
 */
final class HeadRows {
  private HeadRows() {}

  /** A head's dims in the order [rope (2r) | nope (d_h - 2r)]. */
  static int[] ropeFirst(int[] kept, int headDim) {
    int pairs = headDim / 2;
    int r = kept.length;
    int[] order = new int[headDim];
    boolean[] used = new boolean[headDim];
    for (int m = 0; m < r; m++) {
      order[m] = kept[m];
      order[m + r] = kept[m] + pairs;
      used[kept[m]] = true;
      used[kept[m] + pairs] = true;
    }
    int at = 2 * r;
    for (int i = 0; i < headDim; i++) {
      if (!used[i]) {
        order[at++] = i;
      }
    }
    return order;
  }

  /**
   * Gathers rows {@code [from, from+count)} of every head's order from {@code w}, whose rows are
   * {@code [heads·d_h]}, head h using {@code orders[h / group]}; null stays null (absent bias).
   * For a bias ({@code [1][heads·d_h]}) set {@code columns}: the same gather along columns.
   */
  static Tensor gather(Arena arena, Tensor w, int[][] orders, int group, int headDim, int from,
      int count, boolean columns, DType dtype) {
    if (w == null) {
      return null;
    }
    int heads = (columns ? w.cols() : w.rows()) / headDim;
    Tensor out = columns ? Tensor.allocate(arena, dtype, 1, heads * count)
        : Tensor.allocate(arena, dtype, heads * count, w.cols());
    for (int h = 0; h < heads; h++) {
      int[] order = orders[h / group];
      for (int m = 0; m < count; m++) {
        int src = h * headDim + order[from + m];
        int dst = h * count + m;
        if (columns) {
          out.set(0, dst, w.get(0, src));
        } else {
          Dense.copyInto(w.row(src), out.row(dst));
        }
      }
    }
    return out;
  }
}
