package org.fedmultiemo.bridge.physio;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.fedmultiemo.bridge.json.Json;

/**
 * Per-feature {@code count} of finite values, their {@code mean} and sum of squared deviations
 * {@code m2} (count 0 -&gt; mean 0, m2 0), in {@link #featureNames()} order (port of
 * emocore.calibration.ReferenceStats; float64 values, immutable: the accessors return copies).
 */
public final class ReferenceStats {
  /** The keys of the JSON object. */
  public static final Set<String> KEYS = Collections.unmodifiableSet(new TreeSet<>(Arrays.asList(
      "feature_names", "count", "mean", "m2")));

  private final List<String> featureNames;
  private final double[] count;
  private final double[] mean;
  private final double[] m2;

  public ReferenceStats(List<String> featureNames, double[] count, double[] mean, double[] m2) {
    if (featureNames == null) {
      throw new IllegalArgumentException("ReferenceStats.feature_names must be a list of names");
    }
    this.featureNames = Collections.unmodifiableList(new ArrayList<>(featureNames));
    int width = featureNames.size();
    this.count = checked("count", count, width);
    this.mean = checked("mean", mean, width);
    this.m2 = checked("m2", m2, width);
    for (int i = 0; i < width; i++) {
      if (this.count[i] < 0 || this.m2[i] < 0) {
        throw new IllegalArgumentException("ReferenceStats.count and m2 must be >= 0; got count "
            + Arrays.toString(this.count) + ", m2 " + Arrays.toString(this.m2));
      }
    }
  }

  private static double[] checked(String name, double[] values, int width) {
    boolean ok = values != null && values.length == width;
    for (int i = 0; ok && i < width; i++) {
      ok = Double.isFinite(values[i]);
    }
    if (!ok) {
      throw new IllegalArgumentException("ReferenceStats." + name + " must be finite float["
          + width + "] (one per feature name); got "
          + (values == null ? "null" : Arrays.toString(values)));
    }
    return values.clone();
  }

  /** No value of any feature (count, mean and m2 all 0). */
  public static ReferenceStats empty(List<String> featureNames) {
    int width = featureNames.size();
    return new ReferenceStats(featureNames, new double[width], new double[width],
        new double[width]);
  }

  /**
   * {@code {"feature_names", "count", "mean", "m2"}} ({@code ReferenceStats.to_json_dict}, e.g.
   * features.json's population); rejects other keys.
   */
  public static ReferenceStats fromJson(Map<String, Object> data) {
    if (data == null || !data.keySet().equals(KEYS)) {
      throw new IllegalArgumentException("reference statistics must be an object with keys "
          + CalibrationConfig.pyList(KEYS) + "; got "
          + (data == null ? "null" : CalibrationConfig.pyList(new TreeSet<>(data.keySet()))));
    }
    return new ReferenceStats(
        Json.strings(data.get("feature_names"), "reference statistics feature_names"),
        Json.doubles(data.get("count"), "reference statistics count"),
        Json.doubles(data.get("mean"), "reference statistics mean"),
        Json.doubles(data.get("m2"), "reference statistics m2"));
  }

  /**
   * Statistics of the union (Chan et al.'s pairwise merge, the Python {@code _merge} in the same
   * operation order), e.g. a driver's profile and a finished session; {@code other} must cover
   * the same feature names.
   */
  public ReferenceStats merge(ReferenceStats other) {
    if (other == null || !other.featureNames.equals(featureNames)) {
      throw new IllegalArgumentException("other must be ReferenceStats over "
          + CalibrationConfig.pyList(featureNames) + "; got "
          + (other == null ? "None" : CalibrationConfig.pyList(other.featureNames)));
    }
    int width = featureNames.size();
    double[] n = new double[width];
    double[] mu = new double[width];
    double[] s = new double[width];
    merge(count, mean, m2, other.count, other.mean, other.m2, n, mu, s);
    return new ReferenceStats(featureNames, n, mu, s);
  }

  /**
   * Chan's merge of two (count, mean, m2) summaries into {@code n, mean, m2} (counts 0 on both
   * sides -&gt; zeros), element by element exactly as numpy evaluates
   * {@code emocore.calibration._merge}:
   * <pre>
   *   n = n_a + n_b;  safe = n &gt; 0 ? n : 1
   *   delta = mean_b - mean_a;  mean = mean_a + delta * (n_b / safe)
   *   m2 = (m2_a + m2_b) + ((delta * delta) * ((n_a * n_b) / safe))
   * </pre>
   * The outputs may alias neither input.
   */
  static void merge(double[] nA, double[] meanA, double[] m2A, double[] nB, double[] meanB,
      double[] m2B, double[] nOut, double[] meanOut, double[] m2Out) {
    for (int i = 0; i < nOut.length; i++) {
      double n = nA[i] + nB[i];
      double safe = n > 0 ? n : 1.0;
      double delta = meanB[i] - meanA[i];
      double mu = meanA[i] + delta * (nB[i] / safe);
      double s = (m2A[i] + m2B[i]) + ((delta * delta) * ((nA[i] * nB[i]) / safe));
      nOut[i] = n;
      meanOut[i] = n > 0 ? mu : 0.0;
      m2Out[i] = n > 0 ? s : 0.0;
    }
  }

  public List<String> featureNames() {
    return featureNames;
  }

  public double[] count() {
    return count.clone();
  }

  public double[] mean() {
    return mean.clone();
  }

  public double[] m2() {
    return m2.clone();
  }

  double count(int i) {
    return count[i];
  }

  double mean(int i) {
    return mean[i];
  }

  double m2(int i) {
    return m2[i];
  }

  /** Same names and bit-identical count/mean/m2. */
  @Override
  public boolean equals(Object other) {
    if (!(other instanceof ReferenceStats)) {
      return false;
    }
    ReferenceStats o = (ReferenceStats) other;
    return featureNames.equals(o.featureNames) && Arrays.equals(count, o.count)
        && Arrays.equals(mean, o.mean) && Arrays.equals(m2, o.m2);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * (31 * featureNames.hashCode() + Arrays.hashCode(count))
        + Arrays.hashCode(mean)) + Arrays.hashCode(m2);
  }

  @Override
  public String toString() {
    return "ReferenceStats(feature_names=" + featureNames + ", count=" + Arrays.toString(count)
        + ", mean=" + Arrays.toString(mean) + ", m2=" + Arrays.toString(m2) + ")";
  }
}
