package org.fedmultiemo.bridge.physio;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fedmultiemo.bridge.json.Json;

/**
 * Window, stride and detector settings (port of emocore.physio.PhysioFeatureConfig,
 * same defaults and validation). Immutable; build variants with {@link #toBuilder()}.
 */
public final class PhysioFeatureConfig {
  /** Feature groups in their canonical order, with their feature names. */
  public static final Map<String, List<String>> FEATURE_GROUPS;
  public static final List<String> CARDIAC_SOURCES =
      Collections.unmodifiableList(Arrays.asList("auto", "ecg", "bvp", "hr"));
  private static final List<String> NUMBER_FIELDS = Arrays.asList(
      "window_s", "stride_s", "hr_min_bpm", "hr_max_bpm", "beat_threshold", "lf_hf_min_window_s",
      "rr_resample_hz", "eda_tonic_s", "scr_smooth_s", "scr_threshold", "scr_onset_slope",
      "scr_min_rise_s", "scr_max_rise_s", "resp_smooth_s", "resp_hysteresis");

  static {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    groups.put("cardiac", Collections.unmodifiableList(Arrays.asList(
        "hr_mean_bpm", "hr_std_bpm", "hrv_sdnn_ms", "hrv_rmssd_ms", "hrv_lf_hf")));
    groups.put("eda", Collections.unmodifiableList(Arrays.asList(
        "eda_tonic_mean", "eda_tonic_slope_per_min", "eda_scr_count", "eda_scr_amp_mean",
        "eda_scr_rise_mean_s")));
    groups.put("temp", Collections.unmodifiableList(Arrays.asList(
        "temp_mean", "temp_slope_per_min")));
    groups.put("resp", Collections.unmodifiableList(Arrays.asList(
        "resp_rate_per_min", "resp_amplitude")));
    FEATURE_GROUPS = Collections.unmodifiableMap(groups);
  }

  public final double windowS;
  public final double strideS;
  public final double minValidFraction;
  public final boolean strict;
  public final List<String> groups;
  public final String cardiacSource;
  public final double hrMinBpm;
  public final double hrMaxBpm;
  public final int minRrIntervals;
  public final double beatThreshold;
  public final double lfHfMinWindowS;
  public final double rrResampleHz;
  public final double edaTonicS;
  public final double scrSmoothS;
  public final double scrThreshold;
  public final double scrOnsetSlope;
  public final double scrMinRiseS;
  public final double scrMaxRiseS;
  public final double respSmoothS;
  public final double respHysteresis;

  private PhysioFeatureConfig(Builder b) {
    windowS = b.windowS;
    strideS = b.strideS;
    minValidFraction = b.minValidFraction;
    strict = b.strict;
    groups = Collections.unmodifiableList(new ArrayList<>(b.groups));
    cardiacSource = b.cardiacSource;
    hrMinBpm = b.hrMinBpm;
    hrMaxBpm = b.hrMaxBpm;
    minRrIntervals = b.minRrIntervals;
    beatThreshold = b.beatThreshold;
    lfHfMinWindowS = b.lfHfMinWindowS;
    rrResampleHz = b.rrResampleHz;
    edaTonicS = b.edaTonicS;
    scrSmoothS = b.scrSmoothS;
    scrThreshold = b.scrThreshold;
    scrOnsetSlope = b.scrOnsetSlope;
    scrMinRiseS = b.scrMinRiseS;
    scrMaxRiseS = b.scrMaxRiseS;
    respSmoothS = b.respSmoothS;
    respHysteresis = b.respHysteresis;
    validate();
  }

  /** The defaults (emocore.physio.DEFAULT_CONFIG). */
  public static PhysioFeatureConfig defaults() {
    return new Builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.windowS = windowS;
    b.strideS = strideS;
    b.minValidFraction = minValidFraction;
    b.strict = strict;
    b.groups = new ArrayList<>(groups);
    b.cardiacSource = cardiacSource;
    b.hrMinBpm = hrMinBpm;
    b.hrMaxBpm = hrMaxBpm;
    b.minRrIntervals = minRrIntervals;
    b.beatThreshold = beatThreshold;
    b.lfHfMinWindowS = lfHfMinWindowS;
    b.rrResampleHz = rrResampleHz;
    b.edaTonicS = edaTonicS;
    b.scrSmoothS = scrSmoothS;
    b.scrThreshold = scrThreshold;
    b.scrOnsetSlope = scrOnsetSlope;
    b.scrMinRiseS = scrMinRiseS;
    b.scrMaxRiseS = scrMaxRiseS;
    b.respSmoothS = respSmoothS;
    b.respHysteresis = respHysteresis;
    return b;
  }

  /**
   * The {@code config} object of features.json (tflite_edge.physio_stream.PhysioSpec): keys are
   * the Python field names, absent ones keep their defaults; unknown keys are rejected.
   */
  public static PhysioFeatureConfig fromJson(Map<String, Object> data) {
    Set<String> known = new HashSet<>(NUMBER_FIELDS);
    known.addAll(Arrays.asList("min_valid_fraction", "strict", "groups", "cardiac_source",
        "min_rr_intervals"));
    List<String> unknown = new ArrayList<>();
    for (String key : data.keySet()) {
      if (!known.contains(key)) {
        unknown.add(key);
      }
    }
    if (!unknown.isEmpty()) {
      Collections.sort(unknown);
      throw new IllegalArgumentException("features.json config has unknown keys " + unknown);
    }
    Builder b = new Builder();
    for (Map.Entry<String, Object> e : data.entrySet()) {
      String key = e.getKey();
      Object v = e.getValue();
      String where = "features.json config." + key;
      if (NUMBER_FIELDS.contains(key)) {
        b.set(key, Json.number(v, where));
      } else if (key.equals("min_valid_fraction")) {
        b.minValidFraction = Json.number(v, where);
      } else if (key.equals("strict")) {
        b.strict = Json.bool(v, where);
      } else if (key.equals("groups")) {
        b.groups = new ArrayList<>(Json.strings(v, where));
      } else if (key.equals("cardiac_source")) {
        b.cardiacSource = Json.string(v, where);
      } else {
        long n = Json.integer(v, where);
        if (n < Integer.MIN_VALUE || n > Integer.MAX_VALUE) {
          throw new IllegalArgumentException(where + " must fit an int; got " + n);
        }
        b.minRrIntervals = (int) n;
      }
    }
    return b.build();
  }

  /** The fixed, ordered feature names of {@link #groups} (in that order). */
  public List<String> featureNames() {
    List<String> out = new ArrayList<>();
    for (String g : groups) {
      out.addAll(FEATURE_GROUPS.get(g));
    }
    return Collections.unmodifiableList(out);
  }

  private void validate() {
    double[] values = {windowS, strideS, hrMinBpm, hrMaxBpm, beatThreshold, lfHfMinWindowS,
        rrResampleHz, edaTonicS, scrSmoothS, scrThreshold, scrOnsetSlope, scrMinRiseS, scrMaxRiseS,
        respSmoothS, respHysteresis};
    for (int i = 0; i < values.length; i++) {
      if (!(Double.isFinite(values[i]) && values[i] > 0)) {
        throw new IllegalArgumentException("PhysioFeatureConfig." + NUMBER_FIELDS.get(i)
            + " must be a finite number > 0; got " + values[i]);
      }
    }
    if (!(minValidFraction > 0.0 && minValidFraction <= 1.0)) {
      throw new IllegalArgumentException(
          "PhysioFeatureConfig.min_valid_fraction must lie in (0, 1]; got " + minValidFraction);
    }
    if (groups.isEmpty() || new HashSet<>(groups).size() != groups.size()
        || !FEATURE_GROUPS.keySet().containsAll(groups)) {
      throw new IllegalArgumentException("PhysioFeatureConfig.groups must be a non-empty list of "
          + "distinct names from " + FEATURE_GROUPS.keySet() + "; got " + groups);
    }
    if (!CARDIAC_SOURCES.contains(cardiacSource)) {
      throw new IllegalArgumentException("PhysioFeatureConfig.cardiac_source must be one of "
          + CARDIAC_SOURCES + "; got '" + cardiacSource + "'");
    }
    if (hrMinBpm >= hrMaxBpm) {
      throw new IllegalArgumentException("PhysioFeatureConfig.hr_min_bpm must be < hr_max_bpm; got "
          + hrMinBpm + " >= " + hrMaxBpm);
    }
    if (scrMinRiseS > scrMaxRiseS) {
      throw new IllegalArgumentException("PhysioFeatureConfig.scr_min_rise_s must be <= "
          + "scr_max_rise_s; got " + scrMinRiseS + " > " + scrMaxRiseS);
    }
    if (minRrIntervals < 2) {
      throw new IllegalArgumentException(
          "PhysioFeatureConfig.min_rr_intervals must be >= 2; got " + minRrIntervals);
    }
  }

  /** Mutable builder; {@link #build()} validates. Field names follow the Python ones. */
  public static final class Builder {
    public double windowS = 60.0;
    public double strideS = 5.0;
    public double minValidFraction = 0.6;
    public boolean strict = false;
    public List<String> groups = new ArrayList<>(Arrays.asList("cardiac", "eda", "temp", "resp"));
    public String cardiacSource = "auto";
    public double hrMinBpm = 30.0;
    public double hrMaxBpm = 220.0;
    public int minRrIntervals = 5;
    public double beatThreshold = 0.35;
    public double lfHfMinWindowS = 60.0;
    public double rrResampleHz = 4.0;
    public double edaTonicS = 8.0;
    public double scrSmoothS = 1.0;
    public double scrThreshold = 0.05;
    public double scrOnsetSlope = 0.01;
    public double scrMinRiseS = 0.5;
    public double scrMaxRiseS = 8.0;
    public double respSmoothS = 0.5;
    public double respHysteresis = 0.3;

    public PhysioFeatureConfig build() {
      if (groups == null || cardiacSource == null) {
        throw new IllegalArgumentException("groups and cardiacSource must not be null");
      }
      return new PhysioFeatureConfig(this);
    }

    void set(String field, double value) {
      switch (field) {
        case "window_s": windowS = value; break;
        case "stride_s": strideS = value; break;
        case "hr_min_bpm": hrMinBpm = value; break;
        case "hr_max_bpm": hrMaxBpm = value; break;
        case "beat_threshold": beatThreshold = value; break;
        case "lf_hf_min_window_s": lfHfMinWindowS = value; break;
        case "rr_resample_hz": rrResampleHz = value; break;
        case "eda_tonic_s": edaTonicS = value; break;
        case "scr_smooth_s": scrSmoothS = value; break;
        case "scr_threshold": scrThreshold = value; break;
        case "scr_onset_slope": scrOnsetSlope = value; break;
        case "scr_min_rise_s": scrMinRiseS = value; break;
        case "scr_max_rise_s": scrMaxRiseS = value; break;
        case "resp_smooth_s": respSmoothS = value; break;
        case "resp_hysteresis": respHysteresis = value; break;
        default: throw new IllegalArgumentException("unknown number field " + field);
      }
    }
  }
}
