package org.fedmultiemo.bridge.physio;

import java.util.List;

/**
 * One driving session's causal, label-free calibration of physio features (port of
 * emocore.calibration.SessionCalibration, bit for bit): {@link #apply} each window's features
 * in time order.
 *
 * <p>The reference is the prior ({@code priorWeight} pseudo-windows; features the prior never saw
 * weigh 0) merged with the finite values of this session's first {@code baselineWindows} windows
 * (every window when {@code running}); window t's output depends only on windows &lt;= t. Output
 * = x - mean (center) or (x - mean) / std (zscore; a zero std divides by 1), NaN for non-finite x
 * and for features without any reference value. Arithmetic is float64 in the Python's order
 * (Welford updates, Chan's merge), cast to float32 at the end. Not thread-safe.
 */
public final class SessionCalibration {
  private final CalibrationConfig config;
  private final ReferenceStats prior;
  private final int width;
  private final double[] priorCount;
  private final double[] priorMean;
  private final double[] priorM2;
  // This session's reference windows (Welford over finite values).
  private final double[] count;
  private final double[] mean;
  private final double[] m2;
  // Scratch for the merged reference.
  private final double[] refCount;
  private final double[] refMean;
  private final double[] refM2;
  private int windowsSeen;

  /**
   * {@code config} must calibrate (method center or zscore); {@code prior} is the population's
   * statistics or the driver's profile, over the model's feature names.
   */
  public SessionCalibration(CalibrationConfig config, ReferenceStats prior) {
    if (config == null || !config.enabled()) {
      throw new IllegalArgumentException("config must be a CalibrationConfig with method in "
          + CalibrationConfig.pyList(CalibrationConfig.METHODS.subList(1, 3)) + "; got "
          + config);
    }
    if (prior == null) {
      throw new IllegalArgumentException("prior must be ReferenceStats; got null");
    }
    this.config = config;
    this.prior = prior;
    width = prior.featureNames().size();
    priorCount = new double[width];
    priorMean = prior.mean();
    priorM2 = new double[width];
    for (int i = 0; i < width; i++) {
      boolean seen = prior.count(i) > 0;
      priorCount[i] = seen ? config.priorWeight() : 0.0;
      double variance = seen ? prior.m2(i) / prior.count(i) : 0.0;
      priorM2[i] = priorCount[i] * variance;
    }
    count = new double[width];
    mean = new double[width];
    m2 = new double[width];
    refCount = new double[width];
    refMean = new double[width];
    refM2 = new double[width];
  }

  /**
   * The session calibration of a features.json spec (tflite_edge.physio_stream's
   * {@code _session_calibration}): null when the model takes uncalibrated features; the prior is
   * {@code driverProfile} when given (required for prior "driver_profile"), else the spec's
   * population.
   */
  public static SessionCalibration forSpec(PhysioSpec spec, ReferenceStats driverProfile) {
    if (driverProfile != null && !driverProfile.featureNames().equals(spec.featureNames())) {
      throw new IllegalArgumentException("driver_profile must be ReferenceStats over the "
          + "features.json feature_names " + CalibrationConfig.pyList(spec.featureNames())
          + "; got " + CalibrationConfig.pyList(driverProfile.featureNames()));
    }
    if (spec.calibration() == null) {
      if (driverProfile != null) {
        throw new IllegalArgumentException("driver_profile was given but the bundle's physio "
            + "model takes uncalibrated features (features.json has no calibration)");
      }
      return null;
    }
    if (driverProfile == null && "driver_profile".equals(spec.calibration().prior())) {
      throw new IllegalArgumentException("the bundle's physio model is calibrated against the "
          + "driver's profile (calibration prior 'driver_profile'): pass driver_profile");
    }
    return new SessionCalibration(spec.calibration(),
        driverProfile != null ? driverProfile : spec.requirePopulation());
  }

  public CalibrationConfig config() {
    return config;
  }

  public ReferenceStats prior() {
    return prior;
  }

  public List<String> featureNames() {
    return prior.featureNames();
  }

  /** Windows applied so far. */
  public int windowsSeen() {
    return windowsSeen;
  }

  /** True once the session's reference stops changing. */
  public boolean isFrozen() {
    return !config.running() && windowsSeen >= config.baselineWindows();
  }

  /** The next window's features (float32 values, as the extractor gives them). */
  public float[] apply(float[] features) {
    if (features == null) {
      throw shapeError(null);
    }
    double[] x = new double[features.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = features[i];
    }
    return apply(x);
  }

  /**
   * The next window's {@code features} (one per feature name) -&gt; calibrated float32 values
   * (NaN for non-finite features and where no reference value exists yet).
   */
  public float[] apply(double[] features) {
    if (features == null || features.length != width) {
      throw shapeError(features == null ? null : features.length);
    }
    double[] x = features;
    if (!isFrozen()) {
      add(x);
    }
    windowsSeen++;
    ReferenceStats.merge(priorCount, priorMean, priorM2, count, mean, m2, refCount, refMean,
        refM2);
    boolean zscore = "zscore".equals(config.method());
    float[] out = new float[width];
    for (int i = 0; i < width; i++) {
      boolean known = refCount[i] > 0;
      double value = known && Double.isFinite(x[i]) ? x[i] - refMean[i] : Double.NaN;
      if (zscore) {
        double variance = known ? refM2[i] / refCount[i] : 0.0;
        double scale = Math.sqrt(variance);
        value = value / (scale > 0 ? scale : 1.0);
      }
      out[i] = (float) value;
    }
    return out;
  }

  /** emocore.calibration._Welford.add: finite values update count, mean and m2. */
  private void add(double[] x) {
    for (int i = 0; i < width; i++) {
      if (!Double.isFinite(x[i])) {
        continue;
      }
      double n = count[i] + 1.0;
      double delta = x[i] - mean[i];
      double mu = mean[i] + delta / n;
      m2[i] = m2[i] + delta * (x[i] - mu);
      mean[i] = mu;
      count[i] = n;
    }
  }

  /** This session's own reference windows (no prior): what a driver profile merges in. */
  public ReferenceStats sessionStats() {
    return new ReferenceStats(prior.featureNames(), count, mean, m2);
  }

  private IllegalArgumentException shapeError(Integer length) {
    return new IllegalArgumentException("features must be float[" + width + "] (one window); got "
        + (length == null ? "null" : "shape [" + length + "]"));
  }
}
