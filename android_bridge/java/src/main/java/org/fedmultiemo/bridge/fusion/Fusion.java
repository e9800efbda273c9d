package org.fedmultiemo.bridge.fusion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.fedmultiemo.bridge.labels.LabelSpaces;

/**
 * Stateless decision-level fusion: a port of emocore/fusion/ (its module docstring documents
 * the gating rules, strategies and tie-breaks). Sums run in modality / class order; logs use
 * StrictMath.
 */
public final class Fusion {
  static final double SUM_TOLERANCE = 1e-3;
  private static final int K = 3;

  private Fusion() {}

  /** A fused step plus the tie-break scores the engine needs after smoothing. */
  static final class Step {
    final FusionResult result;
    final double[] tieScores;

    Step(FusionResult result, double[] tieScores) {
      this.result = result;
      this.tieScores = tieScores;
    }
  }

  /** Output of {@link #combine}: fused[K] (null = no mass), tie scores (nullable), weights[M]. */
  static final class Combined {
    final double[] fused;
    final double[] tieScores;
    final double[] weights;

    Combined(double[] fused, double[] tieScores, double[] weights) {
      this.fused = fused;
      this.tieScores = tieScores;
      this.weights = weights;
    }
  }

  /** One stateless fusion step at time {@code nowS} (seconds, same clock as the timestamps). */
  public static FusionResult fuse(List<ModalityReading> readings, double nowS,
      FusionConfig config) {
    return step(readings, nowS, config).result;
  }

  static Step step(List<ModalityReading> readings, double nowS, FusionConfig config) {
    return step(readings, nowS, config, null);
  }

  /**
   * One fusion step; {@code pool} maps each usable reading to the probs fused in its place
   * ({@link FusionEngine}'s reading pooling), null fuses the readings' own.
   */
  static Step step(List<ModalityReading> readings, double nowS, FusionConfig config,
      Function<ModalityReading, double[]> pool) {
    if (!Double.isFinite(nowS)) {
      throw new IllegalArgumentException("now_s must be finite and in [-inf, inf); got " + nowS);
    }
    List<String> modalities = config.modalities();
    Set<String> seen = new HashSet<>();
    List<ModalityReading> used = new ArrayList<>();
    List<Exclusion> excluded = new ArrayList<>();
    for (ModalityReading reading : readings) {
      if (reading == null) {
        throw new IllegalArgumentException("readings must hold ModalityReading; got null");
      }
      String name = reading.modality();
      if (!modalities.contains(name)) {
        throw new IllegalArgumentException("reading modality '" + name
            + "' is not configured; expected one of " + modalities);
      }
      if (!seen.add(name)) {
        throw new IllegalArgumentException("readings hold modality '" + name + "' twice");
      }
      Exclusion exclusion = exclusion(reading, nowS, config);
      if (exclusion == null) {
        used.add(reading);
      } else {
        excluded.add(exclusion);
      }
    }
    for (String name : modalities) {
      if (!seen.contains(name)) {
        excluded.add(new Exclusion(name, ExclusionKind.NO_READING, "missing (no reading)"));
      }
    }
    if (used.isEmpty()) {
      return new Step(FusionResult.unknown(excluded), null);
    }
    List<String> names = new ArrayList<>();
    double[][] probs = new double[used.size()][];
    for (int m = 0; m < probs.length; m++) {
      names.add(used.get(m).modality());
      probs[m] = pool == null ? used.get(m).probs() : pool.apply(used.get(m));
    }
    Combined combined = combine(probs, names, config);
    if (combined.fused == null) {
      for (String name : names) {
        excluded.add(new Exclusion(name, ExclusionKind.ZERO_MASS,
            "learned weights give this combination zero probability mass"));
      }
      return new Step(FusionResult.unknown(excluded), null);
    }
    int index = decide(combined.fused, combined.tieScores);
    FusionResult result = new FusionResult(LabelSpaces.DRIVER_STATE3.labels().get(index), index,
        combined.fused, names, combined.weights, excluded, false);
    return new Step(result, combined.tieScores);
  }

  /** Why {@code reading} must not be fused (null when usable); throws for malformed probs. */
  static Exclusion exclusion(ModalityReading reading, double nowS, FusionConfig config) {
    String name = reading.modality();
    double[] probs = reading.probs();
    if (probs == null) {
      return new Exclusion(name, ExclusionKind.MISSING, "missing");
    }
    if (probs.length != K) {
      throw new IllegalArgumentException("reading '" + name + "': probs must have shape [" + K
          + "] (DRIVER_STATE3; map with toDriverState); got [" + probs.length + "]");
    }
    for (double p : probs) {
      if (Double.isNaN(p)) {
        return new Exclusion(name, ExclusionKind.NAN_PROBS, "missing (NaN probs)");
      }
    }
    double sum = probs[0];
    boolean bad = false;
    for (int k = 0; k < K; k++) {
      bad |= !Double.isFinite(probs[k]) || probs[k] < 0;
      if (k > 0) {
        sum += probs[k];
      }
    }
    if (bad || Math.abs(sum - 1) > SUM_TOLERANCE) {
      throw new IllegalArgumentException("reading '" + name
          + "': probs must be non-negative and sum to 1; got " + Arrays.toString(probs));
    }
    double timestamp = reading.timestampS();
    double quality = reading.quality();
    if (!Double.isFinite(timestamp)) {
      return new Exclusion(name, ExclusionKind.NON_FINITE_TIMESTAMP,
          "timestamp is not finite (" + timestamp + ")");
    }
    double age = nowS - timestamp;
    if (age < 0) {
      return new Exclusion(name, ExclusionKind.FUTURE_TIMESTAMP,
          "timestamp in the future (" + timestamp + " > now " + nowS + ")");
    }
    if (age > config.maxAgeS()) {
      return new Exclusion(name, ExclusionKind.STALE,
          "stale (age " + age + " s > max_age_s " + config.maxAgeS() + " s)");
    }
    if (Double.isNaN(quality) || quality < config.minQuality()) {
      return new Exclusion(name, ExclusionKind.LOW_QUALITY,
          "low quality (" + quality + " < min_quality " + config.minQuality() + ")");
    }
    return null;
  }

  /** argmax of {@code probs}; ties -> higher {@code tieScores} (nullable), then lower index. */
  static int decide(double[] probs, double[] tieScores) {
    double max = probs[0];
    for (double p : probs) {
      max = Math.max(max, p);
    }
    List<Integer> candidates = new ArrayList<>();
    for (int k = 0; k < probs.length; k++) {
      if (probs[k] == max) {
        candidates.add(k);
      }
    }
    if (tieScores != null && candidates.size() > 1) {
      double best = Double.NEGATIVE_INFINITY;
      for (int k : candidates) {
        best = Math.max(best, tieScores[k]);
      }
      for (int k : candidates) {
        if (tieScores[k] == best) {
          return k;
        }
      }
    }
    return candidates.get(0);
  }

  /** Confidence of each row: max prob, or 1 - H / ln K clipped to [0, 1]. */
  static double[] confidence(double[][] probs, String measure) {
    double[] out = new double[probs.length];
    for (int m = 0; m < probs.length; m++) {
      double[] p = probs[m];
      if (measure.equals("max_prob")) {
        double max = p[0];
        for (double v : p) {
          max = Math.max(max, v);
        }
        out[m] = max;
        continue;
      }
      double terms = 0.0;
      for (int k = 0; k < p.length; k++) {
        double term = p[k] > 0 ? p[k] * StrictMath.log(p[k]) : 0.0;
        terms = k == 0 ? term : terms + term;
      }
      double c = 1.0 - (-terms) / StrictMath.log(p.length);
      out[m] = Math.min(Math.max(c, 0.0), 1.0);
    }
    return out;
  }

  /** Fuses {@code probs: double[M][K]} (M >= 1 usable modalities) with the configured strategy. */
  static Combined combine(double[][] probs, List<String> modalities, FusionConfig config) {
    int m = probs.length;
    double[] ones = new double[m];
    Arrays.fill(ones, 1.0);
    switch (config.strategy()) {
      case "confidence_weighted": {
        double[] w = confidence(probs, config.confidenceMeasure());
        if (sum(w) <= 0) {
          w = ones.clone();
        }
        double total = sum(w);
        for (int i = 0; i < m; i++) {
          w[i] = w[i] / total;
        }
        double[] fused = new double[K];
        for (int k = 0; k < K; k++) {
          double acc = w[0] * probs[0][k];
          for (int i = 1; i < m; i++) {
            acc += w[i] * probs[i][k];
          }
          fused[k] = acc;
        }
        return new Combined(fused, null, w);
      }
      case "majority_vote": {
        double[] votes = new double[K];
        double[] tie = new double[K];
        for (int i = 0; i < m; i++) {
          votes[decide(probs[i], null)] += 1.0;
          for (int k = 0; k < K; k++) {
            tie[k] = i == 0 ? probs[i][k] : tie[k] + probs[i][k];
          }
        }
        for (int k = 0; k < K; k++) {
          votes[k] = votes[k] / m;
        }
        return new Combined(votes, tie, ones);
      }
      case "product_of_experts": {
        double[] logP = new double[K];
        for (int i = 0; i < m; i++) {
          for (int k = 0; k < K; k++) {
            double v = StrictMath.log(Math.max(probs[i][k], config.epsilon()));
            logP[k] = i == 0 ? v : logP[k] + v;
          }
        }
        return new Combined(normalisedExp(logP), null, ones);
      }
      case "learned_log_pool": {
        double[][] w = config.learnedWeights().matrix(modalities);
        double[] logP = new double[K];
        double[] weights = new double[m];
        for (int i = 0; i < m; i++) {
          for (int k = 0; k < K; k++) {
            double v = w[i][k] * StrictMath.log(Math.max(probs[i][k], config.epsilon()));
            logP[k] = i == 0 ? v : logP[k] + v;
          }
          weights[i] = sum(w[i]) / K;
        }
        return new Combined(normalisedExp(logP), null, weights);
      }
      default: {
        double[][] w = config.learnedWeights().matrix(modalities);
        double[] pooled = new double[K];
        double[] weights = new double[m];
        for (int k = 0; k < K; k++) {
          for (int i = 0; i < m; i++) {
            double v = w[i][k] * probs[i][k];
            pooled[k] = i == 0 ? v : pooled[k] + v;
          }
        }
        for (int i = 0; i < m; i++) {
          weights[i] = sum(w[i]) / K;
        }
        double total = sum(pooled);
        if (!(total > 0)) {
          return new Combined(null, null, weights);
        }
        double[] fused = new double[K];
        for (int k = 0; k < K; k++) {
          fused[k] = pooled[k] / total;
        }
        return new Combined(fused, null, weights);
      }
    }
  }

  /** {@code exp(logP - max) / sum}: numpy's {@code fused = np.exp(log_p - log_p.max());
   * fused / fused.sum()}. */
  static double[] normalisedExp(double[] logP) {
    double max = Math.max(Math.max(logP[0], logP[1]), logP[2]);
    double[] fused = new double[K];
    for (int k = 0; k < K; k++) {
      fused[k] = StrictMath.exp(logP[k] - max);
    }
    double total = sum(fused);
    for (int k = 0; k < K; k++) {
      fused[k] = fused[k] / total;
    }
    return fused;
  }

  /** Sequential sum (numpy's sum for fewer than 8 values). */
  private static double sum(double[] x) {
    double s = x[0];
    for (int i = 1; i < x.length; i++) {
      s += x[i];
    }
    return s;
  }
}
