package dev.mla4j.conformance;

/** Query placement: T query tokens starting at firstQueryPos; the context ends with them. */
record Queries(int tokens, int firstQueryPos) {

  /** Decode at block edges (ctx 1, 63, 64, 65, 130) and prefill crossing / ending on a block. */
  static final Queries[] PLACEMENTS = {
      new Queries(1, 0), new Queries(1, 62), new Queries(1, 63), new Queries(1, 64),
      new Queries(1, 129), new Queries(5, 60), new Queries(7, 0), new Queries(3, 125)};

  /** Placement {@code k} of {@link #PLACEMENTS}, cycling: how the sweeps spread their cases. */
  static Queries cycled(int k) {
    return PLACEMENTS[k % PLACEMENTS.length];
  }

  /** Tokens in the context, the queries' own included. */
  int context() {
    return firstQueryPos + tokens;
  }

  @Override
  public String toString() {
    return "T=" + tokens + "@" + firstQueryPos;
  }
}
