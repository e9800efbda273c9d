package org.fedmultiemo.bridge.fusion;

import java.util.Collections;
import java.util.List;

/** A fused decision: a DRIVER_STATE3 label, or "unknown" (index -1, probs null). */
public final class FusionResult {
  public static final String UNKNOWN = "unknown";

  private final String label;
  private final int labelIndex;
  private final double[] probs;
  private final List<String> used;
  private final double[] weights;
  private final List<Exclusion> excluded;
  private final boolean smoothed;

  FusionResult(String label, int labelIndex, double[] probs, List<String> used, double[] weights,
      List<Exclusion> excluded, boolean smoothed) {
    this.label = label;
    this.labelIndex = labelIndex;
    this.probs = probs;
    this.used = Collections.unmodifiableList(used);
    this.weights = weights;
    this.excluded = Collections.unmodifiableList(excluded);
    this.smoothed = smoothed;
  }

  static FusionResult unknown(List<Exclusion> excluded) {
    return new FusionResult(UNKNOWN, -1, null, Collections.<String>emptyList(), new double[0],
        excluded, false);
  }

  public String label() {
    return label;
  }

  /** DRIVER_STATE3 id, -1 for unknown. */
  public int labelIndex() {
    return labelIndex;
  }

  /** Copy of the fused {@code double[3]}, or null when unknown. */
  public double[] probs() {
    return probs == null ? null : probs.clone();
  }

  /** The fused modalities, in reading order. */
  public List<String> used() {
    return used;
  }

  /** Per used modality weight (strategy dependent; see Fusion). */
  public double[] weights() {
    return weights.clone();
  }

  public List<Exclusion> excluded() {
    return excluded;
  }

  public boolean smoothed() {
    return smoothed;
  }

  public boolean isUnknown() {
    return labelIndex < 0;
  }
}
