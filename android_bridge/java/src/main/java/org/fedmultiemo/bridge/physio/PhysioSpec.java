package org.fedmultiemo.bridge.physio;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.fedmultiemo.bridge.json.Json;

/**
 * What the physio model consumes (port of tflite_edge.physio_stream.PhysioSpec, features.json):
 * {@code {"mode": "raw_signals", "config": {...}, "feature_names": [...]}} (window features of
 * raw signals, computed with {@link PhysioFeatures}) or {@code {"mode": "precomputed",
 * "feature_names": [...], "source": "wesad"}} (feature vectors from elsewhere). Either may carry
 * the per-driver calibration the model was trained with: {@code "calibration"}
 * ({@link CalibrationConfig}, method other than none) and {@code "population"}
 * ({@link ReferenceStats} over the feature names: the prior of drivers without a profile).
 */
public final class PhysioSpec {
  public static final String RAW_SIGNALS = "raw_signals";
  public static final String PRECOMPUTED = "precomputed";
  private static final List<String> KEYS =
      Arrays.asList("mode", "config", "feature_names", "source", "calibration", "population");

  private final String mode;
  private final List<String> featureNames;
  private final PhysioFeatureConfig config;
  private final String source;
  private final CalibrationConfig calibration;
  private final ReferenceStats population;

  /** A spec without calibration. */
  public PhysioSpec(String mode, List<String> featureNames, PhysioFeatureConfig config,
      String source) {
    this(mode, featureNames, config, source, null, null);
  }

  /** {@code calibration} and {@code population} may be null. */
  public PhysioSpec(String mode, List<String> featureNames, PhysioFeatureConfig config,
      String source, CalibrationConfig calibration, ReferenceStats population) {
    if (!RAW_SIGNALS.equals(mode) && !PRECOMPUTED.equals(mode)) {
      throw new IllegalArgumentException("features.json mode must be one of [" + RAW_SIGNALS
          + ", " + PRECOMPUTED + "]; got '" + mode + "'");
    }
    if (featureNames == null || featureNames.isEmpty()
        || featureNames.stream().anyMatch(n -> n == null || n.isEmpty())) {
      throw new IllegalArgumentException(
          "features.json feature_names must be a non-empty list of names; got " + featureNames);
    }
    if (RAW_SIGNALS.equals(mode)) {
      if (config == null) {
        throw new IllegalArgumentException("features.json mode 'raw_signals' needs a config object");
      }
      if (!featureNames.equals(config.featureNames())) {
        throw new IllegalArgumentException("features.json feature_names must be "
            + config.featureNames() + " for its config; got " + featureNames);
      }
    }
    if (calibration != null && !calibration.enabled()) {
      throw new IllegalArgumentException("features.json calibration must be a CalibrationConfig "
          + "with a method other than 'none' (or absent); got " + calibration);
    }
    if (population != null && !population.featureNames().equals(featureNames)) {
      throw new IllegalArgumentException("features.json population must be reference statistics "
          + "over feature_names " + CalibrationConfig.pyList(featureNames) + "; got "
          + CalibrationConfig.pyList(population.featureNames()));
    }
    this.mode = mode;
    this.featureNames = Collections.unmodifiableList(featureNames);
    this.config = config;
    this.source = source;
    this.calibration = calibration;
    this.population = population;
  }

  /** Parses features.json; rejects unknown or missing keys like the Python. */
  public static PhysioSpec fromJson(Map<String, Object> data) {
    Set<String> unknown = new TreeSet<>(data.keySet());
    unknown.removeAll(KEYS);
    Set<String> missing = new TreeSet<>(Arrays.asList("mode", "feature_names"));
    missing.removeAll(data.keySet());
    if (!unknown.isEmpty() || !missing.isEmpty()) {
      throw new IllegalArgumentException("features.json: unknown keys " + unknown
          + ", missing keys " + missing + " (expected " + new TreeSet<>(KEYS) + ")");
    }
    Object config = data.get("config");
    Object source = data.get("source");
    Object calibration = data.get("calibration");
    Object population = data.get("population");
    return new PhysioSpec(Json.string(data.get("mode"), "features.json mode"),
        Json.strings(data.get("feature_names"), "features.json feature_names"),
        config == null ? null
            : PhysioFeatureConfig.fromJson(Json.object(config, "features.json config")),
        source == null ? null : Json.string(source, "features.json source"),
        calibration == null ? null : CalibrationConfig.fromJson(
            Json.object(calibration, "features.json calibration")),
        population == null ? null : ReferenceStats.fromJson(
            Json.object(population, "features.json population")));
  }

  public String mode() {
    return mode;
  }

  public List<String> featureNames() {
    return featureNames;
  }

  /** The extractor config; null for precomputed features. */
  public PhysioFeatureConfig config() {
    return config;
  }

  /** May be null. */
  public String source() {
    return source;
  }

  /** The per-driver calibration the model expects; null = uncalibrated features. */
  public CalibrationConfig calibration() {
    return calibration;
  }

  /** The population prior; may be null. */
  public ReferenceStats population() {
    return population;
  }

  /** The population prior; throws when it is absent (a calibration with prior population). */
  public ReferenceStats requirePopulation() {
    if (population == null) {
      throw new IllegalArgumentException("features.json has a calibration with prior "
          + "'population' but no population statistics: re-export the bundle");
    }
    return population;
  }
}
