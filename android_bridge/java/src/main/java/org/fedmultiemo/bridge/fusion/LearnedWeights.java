package org.fedmultiemo.bridge.fusion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.fedmultiemo.bridge.json.Json;

/**
 * Fitted linear-pool weights (port of emocore.fusion.LearnedWeights): {@code weights[m]} has
 * 1 (per modality) or K = 3 (per class) entries, all finite and >= 0.
 */
public final class LearnedWeights {
  public static final List<String> OBJECTIVES =
      Collections.unmodifiableList(Arrays.asList("log_likelihood", "accuracy"));
  private static final int K = 3;

  private final List<String> modalities;
  private final double[][] weights;
  private final String objective;
  private final Double validationScore;

  public LearnedWeights(List<String> modalities, double[][] weights, String objective,
      Double validationScore) {
    if (modalities == null || modalities.isEmpty()
        || new HashSet<>(modalities).size() != modalities.size()) {
      throw new IllegalArgumentException(
          "modalities must be unique and non-empty; got " + modalities);
    }
    if (weights == null || weights.length != modalities.size()) {
      throw new IllegalArgumentException("weights must have one row per modality ("
          + modalities.size() + "); got " + (weights == null ? "null" : weights.length));
    }
    int width = weights[0].length;
    for (double[] row : weights) {
      if (row.length != width || (width != 1 && width != K)) {
        throw new IllegalArgumentException("each weights row must have 1 or " + K
            + " entries (all alike); got " + Arrays.deepToString(weights));
      }
      for (double v : row) {
        if (!Double.isFinite(v) || v < 0) {
          throw new IllegalArgumentException(
              "weights must be finite and >= 0; got " + Arrays.deepToString(weights));
        }
      }
    }
    if (!OBJECTIVES.contains(objective)) {
      throw new IllegalArgumentException(
          "objective must be one of " + OBJECTIVES + "; got '" + objective + "'");
    }
    this.modalities = Collections.unmodifiableList(new ArrayList<>(modalities));
    this.weights = new double[weights.length][];
    for (int m = 0; m < weights.length; m++) {
      this.weights[m] = weights[m].clone();
    }
    this.objective = objective;
    this.validationScore = validationScore;
  }

  /** Parses the {@code learned_weights} object of fusion.json. */
  public static LearnedWeights fromJson(Map<String, Object> data) {
    FusionConfig.checkKeys(data, Arrays.asList("modalities", "weights", "objective",
        "validation_score"), "learned_weights");
    List<String> modalities = Json.strings(data.get("modalities"), "learned_weights.modalities");
    List<Object> rows = Json.array(data.get("weights"), "learned_weights.weights");
    double[][] weights = new double[rows.size()][];
    for (int m = 0; m < weights.length; m++) {
      weights[m] = Json.doubles(rows.get(m), "learned_weights.weights[" + m + "]");
    }
    Object score = data.get("validation_score");
    return new LearnedWeights(modalities, weights,
        Json.string(data.get("objective"), "learned_weights.objective"),
        score == null ? null : Json.number(score, "learned_weights.validation_score"));
  }

  public List<String> modalities() {
    return modalities;
  }

  public boolean perClass() {
    return weights[0].length > 1;
  }

  public String objective() {
    return objective;
  }

  /** May be null. */
  public Double validationScore() {
    return validationScore;
  }

  /** {@code double[M][K]} weights of {@code names} (scalars broadcast over K). */
  public double[][] matrix(List<String> names) {
    double[][] out = new double[names.size()][K];
    for (int m = 0; m < out.length; m++) {
      int row = modalities.indexOf(names.get(m));
      if (row < 0) {
        throw new IllegalArgumentException("no learned weight for modality '" + names.get(m)
            + "'; have " + modalities);
      }
      for (int k = 0; k < K; k++) {
        out[m][k] = weights[row][perClass() ? k : 0];
      }
    }
    return out;
  }
}
