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
 * "feature_names": [...], "source": "wesad"}} (feature vectors from elsewhere).
 */
public final class PhysioSpec {
  public static final String RAW_SIGNALS = "raw_signals";
  public static final String PRECOMPUTED = "precomputed";
  private static final List<String> KEYS =
      Arrays.asList("mode", "config", "feature_names", "source");

  private final String mode;
  private final List<String> featureNames;
  private final PhysioFeatureConfig config;
  private final String source;

  public PhysioSpec(String mode, List<String> featureNames, PhysioFeatureConfig config,
      String source) {
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
    this.mode = mode;
    this.featureNames = Collections.unmodifiableList(featureNames);
    this.config = config;
    this.source = source;
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
    return new PhysioSpec(Json.string(data.get("mode"), "features.json mode"),
        Json.strings(data.get("feature_names"), "features.json feature_names"),
        config == null ? null
            : PhysioFeatureConfig.fromJson(Json.object(config, "features.json config")),
        source == null ? null : Json.string(source, "features.json source"));
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
}
