package org.fedmultiemo.bridge.fusion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.fedmultiemo.bridge.json.Json;
import org.fedmultiemo.bridge.labels.LabelSpaces;

/**
 * Fusion settings (port of emocore.fusion.FusionConfig, same defaults and validation); read
 * from fusion.json with {@link #fromJson(String)}.
 */
public final class FusionConfig {
  public static final int JSON_VERSION = 2;
  public static final List<String> STRATEGIES = Collections.unmodifiableList(Arrays.asList(
      "confidence_weighted", "majority_vote", "product_of_experts", "learned_weights",
      "learned_log_pool"));
  /** The strategies that pool with fitted learned weights (linear and logarithmic pool). */
  public static final List<String> LEARNED_STRATEGIES = Collections.unmodifiableList(
      Arrays.asList("learned_weights", "learned_log_pool"));
  public static final List<String> CONFIDENCE_MEASURES =
      Collections.unmodifiableList(Arrays.asList("max_prob", "entropy"));
  private static final List<String> FIELDS = Arrays.asList("strategy", "confidence_measure",
      "max_age_s", "min_quality", "epsilon", "smoothing_half_life_s", "smoothing_reset_gap_s",
      "modality_label_spaces", "learned_weights", "pooling_half_life_s");

  private final String strategy;
  private final String confidenceMeasure;
  private final double maxAgeS;
  private final double minQuality;
  private final double epsilon;
  private final double smoothingHalfLifeS;
  private final double smoothingResetGapS;
  private final TreeMap<String, String> modalityLabelSpaces;
  private final LearnedWeights learnedWeights;
  private final TreeMap<String, Double> poolingHalfLifeS;

  /** Validates like the Python dataclass; {@code learnedWeights} may be null; no pooling. */
  public FusionConfig(String strategy, String confidenceMeasure, double maxAgeS, double minQuality,
      double epsilon, double smoothingHalfLifeS, double smoothingResetGapS,
      Map<String, String> modalityLabelSpaces, LearnedWeights learnedWeights) {
    this(strategy, confidenceMeasure, maxAgeS, minQuality, epsilon, smoothingHalfLifeS,
        smoothingResetGapS, modalityLabelSpaces, learnedWeights, Collections.emptyMap());
  }

  /**
   * Validates like the Python dataclass; {@code learnedWeights} may be null;
   * {@code poolingHalfLifeS}: modality -> reading-pooling half-life in s (0 or absent = none).
   */
  public FusionConfig(String strategy, String confidenceMeasure, double maxAgeS, double minQuality,
      double epsilon, double smoothingHalfLifeS, double smoothingResetGapS,
      Map<String, String> modalityLabelSpaces, LearnedWeights learnedWeights,
      Map<String, Double> poolingHalfLifeS) {
    if (!STRATEGIES.contains(strategy)) {
      throw new IllegalArgumentException(
          "strategy must be one of " + STRATEGIES + "; got '" + strategy + "'");
    }
    if (!CONFIDENCE_MEASURES.contains(confidenceMeasure)) {
      throw new IllegalArgumentException("confidence_measure must be one of "
          + CONFIDENCE_MEASURES + "; got '" + confidenceMeasure + "'");
    }
    checkRange(maxAgeS, "max_age_s", 0.0, Double.POSITIVE_INFINITY, true);
    checkRange(minQuality, "min_quality", 0.0, 1.0, false);
    checkRange(epsilon, "epsilon", 0.0, 0.01, true);
    checkRange(smoothingHalfLifeS, "smoothing_half_life_s", 0.0, Double.POSITIVE_INFINITY, false);
    checkRange(smoothingResetGapS, "smoothing_reset_gap_s", 0.0, Double.POSITIVE_INFINITY, true);
    if (modalityLabelSpaces == null || modalityLabelSpaces.isEmpty()) {
      throw new IllegalArgumentException(
          "modality_label_spaces must name unique, non-empty modalities; got none");
    }
    for (Map.Entry<String, String> e : modalityLabelSpaces.entrySet()) {
      if (e.getKey() == null || e.getKey().isEmpty()) {
        throw new IllegalArgumentException("modality_label_spaces must name unique, non-empty "
            + "modalities; got " + modalityLabelSpaces.keySet());
      }
      if (!LabelSpaces.hasMapping(e.getValue(), LabelSpaces.DRIVER_STATE3.name())) {
        LabelSpaces.mappingMatrix(e.getValue(), LabelSpaces.DRIVER_STATE3.name()); // throws
      }
    }
    if (learnedWeights != null
        && !new HashSet<>(learnedWeights.modalities()).equals(modalityLabelSpaces.keySet())) {
      throw new IllegalArgumentException("learned_weights must cover exactly the modalities "
          + new TreeSet<>(modalityLabelSpaces.keySet()) + "; got "
          + new TreeSet<>(learnedWeights.modalities()));
    }
    if (LEARNED_STRATEGIES.contains(strategy) && learnedWeights == null) {
      throw new IllegalArgumentException("strategy '" + strategy + "' needs learned_weights "
          + "(fit them with fit_learned_weights); got None");
    }
    if (poolingHalfLifeS == null
        || !modalityLabelSpaces.keySet().containsAll(poolingHalfLifeS.keySet())) {
      throw new IllegalArgumentException("pooling_half_life_s must name configured modalities ("
          + new ArrayList<>(new TreeSet<>(modalityLabelSpaces.keySet()))
          + ") at most once each; got "
          + (poolingHalfLifeS == null ? "null" : new ArrayList<>(new TreeSet<>(
              poolingHalfLifeS.keySet()))));
    }
    for (Map.Entry<String, Double> e : poolingHalfLifeS.entrySet()) {
      checkRange(e.getValue() == null ? Double.NaN : e.getValue(),
          "pooling_half_life_s['" + e.getKey() + "']", 0.0, Double.POSITIVE_INFINITY, false);
    }
    this.strategy = strategy;
    this.confidenceMeasure = confidenceMeasure;
    this.maxAgeS = maxAgeS;
    this.minQuality = minQuality;
    this.epsilon = epsilon;
    this.smoothingHalfLifeS = smoothingHalfLifeS;
    this.smoothingResetGapS = smoothingResetGapS;
    this.modalityLabelSpaces = new TreeMap<>(modalityLabelSpaces);
    this.learnedWeights = learnedWeights;
    this.poolingHalfLifeS = new TreeMap<>(poolingHalfLifeS);
  }

  /** The Python defaults (face: fer7, physio: wesad3, confidence_weighted). */
  public static FusionConfig defaults() {
    Map<String, String> spaces = new TreeMap<>();
    spaces.put("face", "fer7");
    spaces.put("physio", "wesad3");
    return new FusionConfig("confidence_weighted", "max_prob", 2.0, 0.5, 1e-6, 0.0, 5.0, spaces,
        null);
  }

  /**
   * Parses fusion.json ({@code FusionConfig.to_json()}; version 1, written before reading
   * pooling, reads as unpooled); rejects other versions, labels, keys.
   */
  public static FusionConfig fromJson(String text) {
    return fromJson(Json.object(Json.parse(text), "fusion config"));
  }

  /** Parses an already-parsed fusion.json object. */
  public static FusionConfig fromJson(Map<String, Object> data) {
    List<String> expected = new ArrayList<>(FIELDS);
    expected.add("version");
    expected.add("labels");
    // The version first: an older file lacks the keys added since.
    Object version = data.get("version");
    boolean version1 = Long.valueOf(1).equals(version);
    if (!version1 && !Long.valueOf(JSON_VERSION).equals(version)) {
      throw new IllegalArgumentException("fusion config version must be one of [1, "
          + JSON_VERSION + "] (this runtime's); got " + Json.describe(version));
    }
    if (version1) { // written before reading pooling: no pooling
      expected.remove("pooling_half_life_s");
    }
    checkKeys(data, expected, "fusion config");
    List<String> labels = Json.strings(data.get("labels"), "fusion config labels");
    if (!labels.equals(LabelSpaces.DRIVER_STATE3.labels())) {
      throw new IllegalArgumentException("fusion config labels must be "
          + LabelSpaces.DRIVER_STATE3.labels() + "; got " + labels);
    }
    Map<String, Object> spacesJson =
        Json.object(data.get("modality_label_spaces"), "modality_label_spaces");
    Map<String, String> spaces = new TreeMap<>();
    for (Map.Entry<String, Object> e : spacesJson.entrySet()) {
      spaces.put(e.getKey(), Json.string(e.getValue(), "modality_label_spaces." + e.getKey()));
    }
    Map<String, Double> pooling = new TreeMap<>();
    if (!version1) {
      Map<String, Object> poolingJson =
          Json.object(data.get("pooling_half_life_s"), "pooling_half_life_s");
      for (Map.Entry<String, Object> e : poolingJson.entrySet()) {
        pooling.put(e.getKey(), Json.number(e.getValue(), "pooling_half_life_s." + e.getKey()));
      }
    }
    Object learned = data.get("learned_weights");
    return new FusionConfig(
        Json.string(data.get("strategy"), "strategy"),
        Json.string(data.get("confidence_measure"), "confidence_measure"),
        Json.number(data.get("max_age_s"), "max_age_s"),
        Json.number(data.get("min_quality"), "min_quality"),
        Json.number(data.get("epsilon"), "epsilon"),
        Json.number(data.get("smoothing_half_life_s"), "smoothing_half_life_s"),
        Json.number(data.get("smoothing_reset_gap_s"), "smoothing_reset_gap_s"),
        spaces,
        learned == null ? null
            : LearnedWeights.fromJson(Json.object(learned, "learned_weights")),
        pooling);
  }

  static void checkKeys(Map<String, Object> data, Collection<String> expected, String where) {
    Set<String> unknown = new TreeSet<>(data.keySet());
    unknown.removeAll(expected);
    Set<String> missing = new TreeSet<>(expected);
    missing.removeAll(data.keySet());
    if (!unknown.isEmpty() || !missing.isEmpty()) {
      throw new IllegalArgumentException(
          where + ": unknown keys " + unknown + ", missing keys " + missing);
    }
  }

  private static void checkRange(double value, String name, double low, double high,
      boolean lowOpen) {
    boolean bad = !Double.isFinite(value) || (lowOpen ? value <= low : value < low)
        || value > high;
    if (bad) {
      String interval = (lowOpen ? "(" : "[") + low + ", "
          + (high == Double.POSITIVE_INFINITY ? "inf)" : high + "]");
      throw new IllegalArgumentException(
          name + " must be finite and in " + interval + "; got " + value);
    }
  }

  public String strategy() {
    return strategy;
  }

  public String confidenceMeasure() {
    return confidenceMeasure;
  }

  public double maxAgeS() {
    return maxAgeS;
  }

  public double minQuality() {
    return minQuality;
  }

  public double epsilon() {
    return epsilon;
  }

  public double smoothingHalfLifeS() {
    return smoothingHalfLifeS;
  }

  public double smoothingResetGapS() {
    return smoothingResetGapS;
  }

  /** modality -> label space of its model output, sorted by modality name. */
  public Map<String, String> modalityLabelSpaces() {
    return Collections.unmodifiableMap(modalityLabelSpaces);
  }

  /** The configured modalities, sorted by name. */
  public List<String> modalities() {
    return Collections.unmodifiableList(new ArrayList<>(modalityLabelSpaces.keySet()));
  }

  /** May be null. */
  public LearnedWeights learnedWeights() {
    return learnedWeights;
  }

  /** modality -> reading-pooling half-life in s, sorted by modality name. */
  public Map<String, Double> poolingHalfLifeS() {
    return Collections.unmodifiableMap(poolingHalfLifeS);
  }

  /** The reading-pooling half-life of {@code modality} in s (0 = not pooled). */
  public double poolingHalfLife(String modality) {
    Double h = poolingHalfLifeS.get(modality);
    return h == null ? 0.0 : h;
  }
}
