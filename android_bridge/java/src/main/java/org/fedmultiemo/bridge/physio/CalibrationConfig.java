package org.fedmultiemo.bridge.physio;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.fedmultiemo.bridge.json.Json;

/**
 * How physio features are referenced to the driver (port of emocore.calibration.CalibrationConfig,
 * same validation): {@code method} none | center | zscore; {@code baselineWindows} windows at the
 * start of a session that form its reference (0 = the prior alone); {@code running} keeps updating
 * the reference for the whole session; {@code prior} population | driver_profile;
 * {@code priorWeight} pseudo-windows of the prior in the blend (finite, &gt; 0). Immutable.
 */
public final class CalibrationConfig {
  public static final List<String> METHODS =
      Collections.unmodifiableList(Arrays.asList("none", "center", "zscore"));
  public static final List<String> PRIORS =
      Collections.unmodifiableList(Arrays.asList("population", "driver_profile"));
  /** The keys of the JSON object (the Python field names). */
  public static final Set<String> KEYS = Collections.unmodifiableSet(new TreeSet<>(Arrays.asList(
      "method", "baseline_windows", "running", "prior", "prior_weight")));

  private final String method;
  private final int baselineWindows;
  private final boolean running;
  private final String prior;
  private final double priorWeight;

  public CalibrationConfig(String method, int baselineWindows, boolean running, String prior,
      double priorWeight) {
    if (!METHODS.contains(method)) {
      throw new IllegalArgumentException("calibration method must be one of "
          + pyList(METHODS) + "; got " + pyStr(method));
    }
    if (!PRIORS.contains(prior)) {
      throw new IllegalArgumentException("calibration prior must be one of "
          + pyList(PRIORS) + "; got " + pyStr(prior));
    }
    if (baselineWindows < 0) {
      throw new IllegalArgumentException(
          "calibration baseline_windows must be an int >= 0; got " + baselineWindows);
    }
    if (!(Double.isFinite(priorWeight) && priorWeight > 0)) {
      throw new IllegalArgumentException("calibration prior_weight must be a finite number > 0; "
          + "got " + pyFloat(priorWeight));
    }
    this.method = method;
    this.baselineWindows = baselineWindows;
    this.running = running;
    this.prior = prior;
    this.priorWeight = priorWeight;
  }

  /** The Python defaults: method none, baseline 0, frozen, population prior, weight 10. */
  public static CalibrationConfig none() {
    return new CalibrationConfig("none", 0, false, "population", 10.0);
  }

  /**
   * The {@code calibration} object of features.json ({@code CalibrationConfig.to_json_dict});
   * rejects missing or unknown keys and wrongly typed values.
   */
  public static CalibrationConfig fromJson(Map<String, Object> data) {
    if (data == null || !data.keySet().equals(KEYS)) {
      throw new IllegalArgumentException("calibration config must be an object with keys "
          + pyList(KEYS) + "; got " + (data == null ? "null" : pyList(new TreeSet<>(data.keySet()))));
    }
    // Checked in the Python's order: method, prior, baseline_windows, running, prior_weight.
    Object method = data.get("method");
    if (!(method instanceof String)) {
      throw new IllegalArgumentException("calibration method must be one of " + pyList(METHODS)
          + "; got " + Json.describe(method));
    }
    Object prior = data.get("prior");
    if (!(prior instanceof String)) {
      throw new IllegalArgumentException("calibration prior must be one of " + pyList(PRIORS)
          + "; got " + Json.describe(prior));
    }
    if (!METHODS.contains(method) || !PRIORS.contains(prior)) {
      return new CalibrationConfig((String) method, 0, false, (String) prior, 1.0);  // throws
    }
    Object windows = data.get("baseline_windows");
    if (!(windows instanceof Long) || (Long) windows < 0 || (Long) windows > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "calibration baseline_windows must be an int >= 0; got " + Json.describe(windows));
    }
    Object running = data.get("running");
    if (!(running instanceof Boolean)) {
      throw new IllegalArgumentException(
          "calibration running must be a bool; got " + Json.describe(running));
    }
    Object weight = data.get("prior_weight");
    if (!(weight instanceof Long || weight instanceof Double)) {
      throw new IllegalArgumentException("calibration prior_weight must be a finite number > 0; "
          + "got " + Json.describe(weight));
    }
    return new CalibrationConfig((String) method, (int) (long) (Long) windows, (Boolean) running,
        (String) prior, Json.number(weight, "calibration prior_weight"));
  }

  public String method() {
    return method;
  }

  public int baselineWindows() {
    return baselineWindows;
  }

  public boolean running() {
    return running;
  }

  public String prior() {
    return prior;
  }

  public double priorWeight() {
    return priorWeight;
  }

  /** True unless the method is "none". */
  public boolean enabled() {
    return !"none".equals(method);
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof CalibrationConfig)) {
      return false;
    }
    CalibrationConfig o = (CalibrationConfig) other;
    return method.equals(o.method) && baselineWindows == o.baselineWindows
        && running == o.running && prior.equals(o.prior)
        && Double.compare(priorWeight, o.priorWeight) == 0;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new Object[] {method, baselineWindows, running, prior, priorWeight});
  }

  /** Python's repr: {@code CalibrationConfig(method='zscore', baseline_windows=4, ...)}. */
  @Override
  public String toString() {
    return "CalibrationConfig(method=" + pyStr(method) + ", baseline_windows=" + baselineWindows
        + ", running=" + (running ? "True" : "False") + ", prior=" + pyStr(prior)
        + ", prior_weight=" + pyFloat(priorWeight) + ")";
  }

  static String pyStr(String s) {
    return s == null ? "None" : "'" + s + "'";
  }

  static String pyList(Iterable<String> items) {
    StringBuilder b = new StringBuilder("[");
    for (String s : items) {
      b.append(b.length() > 1 ? ", " : "").append(pyStr(s));
    }
    return b.append(']').toString();
  }

  static String pyFloat(double v) {
    if (Double.isNaN(v)) {
      return "nan";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "inf" : "-inf";
    }
    return Double.toString(v);
  }
}
