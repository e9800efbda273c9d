package org.fedmultiemo.bridge.fusion;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fedmultiemo.bridge.labels.LabelSpaces;

/**
 * Stateful fusion (port of emocore.fusion.FusionEngine): {@link Fusion#fuse} plus the optional
 * reading pooling, {@code L <- (1 - a) L + a ln max(p, epsilon)} over each pooled modality's new
 * usable readings with {@code a = 1 - 2^(-dt / pooling_half_life)} (the pooled distribution is
 * fused in the reading's place), and the optional temporal smoothing of the fused distribution,
 * {@code s <- (1 - a) s + a p} with {@code a = 1 - 2^(-dt / half_life)}; both restart after a gap
 * longer than {@code smoothing_reset_gap_s}; unknown steps leave the smoothing state untouched.
 * Not thread-safe.
 */
public final class FusionEngine {
  private final FusionConfig config;
  private double[] state;
  private double stateTime;
  private double lastNow;
  private boolean hasLastNow;
  /**
   * modality -> pooled log-probabilities; -> timestamp of the last reading in; -> the pooled
   * distribution.
   */
  private final Map<String, double[]> pools = new HashMap<>();
  private final Map<String, Double> poolTimes = new HashMap<>();
  private final Map<String, double[]> poolProbs = new HashMap<>();

  public FusionEngine(FusionConfig config) {
    if (config == null) {
      throw new IllegalArgumentException("config must be a FusionConfig; got null");
    }
    this.config = config;
    reset();
  }

  public FusionConfig config() {
    return config;
  }

  /** Forgets the pooling and smoothing states and the clock. */
  public void reset() {
    state = null;
    stateTime = Double.NaN;
    hasLastNow = false;
    pools.clear();
    poolTimes.clear();
    poolProbs.clear();
  }

  /**
   * The pooled distribution of {@code modality}'s readings so far, or null when it is not pooled
   * or no usable reading came in since the last reset.
   */
  public double[] pooledProbs(String modality) {
    double[] probs = poolProbs.get(modality);
    return probs == null ? null : probs.clone();
  }

  /**
   * The probs fused for the usable {@code reading}: its modality's pooled distribution after
   * taking the reading in, or the reading's own when the modality is not pooled.
   */
  private double[] pool(ModalityReading reading) {
    String name = reading.modality();
    double halfLife = config.poolingHalfLife(name);
    if (halfLife == 0) {
      return reading.probs();
    }
    double[] probs = reading.probs();
    double[] logP = new double[probs.length];
    for (int k = 0; k < probs.length; k++) {
      logP[k] = StrictMath.log(Math.max(probs[k], config.epsilon()));
    }
    double timestamp = reading.timestampS();
    double[] pool = pools.get(name);
    if (pool == null || timestamp - poolTimes.get(name) > config.smoothingResetGapS()) {
      pools.put(name, logP);
      poolTimes.put(name, timestamp);
      poolProbs.put(name, Fusion.normalisedExp(logP));
    } else if (timestamp > poolTimes.get(name)) { // a repeated or older reading is already in
      double alpha = 1.0 - Math.pow(2.0, -(timestamp - poolTimes.get(name)) / halfLife);
      for (int k = 0; k < pool.length; k++) {
        pool[k] = (1.0 - alpha) * pool[k] + alpha * logP[k];
      }
      poolTimes.put(name, timestamp);
      poolProbs.put(name, Fusion.normalisedExp(pool));
    }
    return poolProbs.get(name).clone();
  }

  /** Fuses {@code readings} at {@code nowS} (which must not decrease between calls). */
  public FusionResult update(List<ModalityReading> readings, double nowS) {
    if (!Double.isFinite(nowS)) {
      throw new IllegalArgumentException("now_s must be finite and in [-inf, inf); got " + nowS);
    }
    if (hasLastNow && nowS < lastNow) {
      throw new IllegalArgumentException(
          "now_s must not decrease; got " + nowS + " after " + lastNow);
    }
    lastNow = nowS;
    hasLastNow = true;
    Fusion.Step step = Fusion.step(readings, nowS, config,
        config.poolingHalfLifeS().isEmpty() ? null : this::pool);
    FusionResult result = step.result;
    double halfLife = config.smoothingHalfLifeS();
    if (result.isUnknown() || halfLife == 0) {
      return result;
    }
    double[] probs = result.probs();
    double gap = state == null ? Double.NaN : nowS - stateTime;
    if (state == null || gap > config.smoothingResetGapS()) {
      state = probs.clone();
    } else {
      // Math.pow, not StrictMath: fdlibm's pow is off by one ulp where libm's (Python) is not,
      // e.g. 2^-0.5; HotSpot's and Android's (bionic) pow agree with glibc on such values.
      double alpha = 1.0 - Math.pow(2.0, -gap / halfLife);
      for (int k = 0; k < state.length; k++) {
        state[k] = (1.0 - alpha) * state[k] + alpha * probs[k];
      }
    }
    stateTime = nowS;
    int index = Fusion.decide(state, step.tieScores);
    return new FusionResult(LabelSpaces.DRIVER_STATE3.labels().get(index), index, state.clone(),
        result.used(), result.weights(), result.excluded(), true);
  }
}
