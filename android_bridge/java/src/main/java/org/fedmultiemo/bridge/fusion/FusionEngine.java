package org.fedmultiemo.bridge.fusion;

import java.util.List;
import org.fedmultiemo.bridge.labels.LabelSpaces;

/**
 * Stateful fusion: {@link Fusion#fuse} plus the optional temporal smoothing of tflite_edge
 * (FusionEngine): {@code s <- (1 - a) s + a p} with {@code a = 1 - 2^(-dt / half_life)}, reset
 * after a gap longer than {@code smoothing_reset_gap_s}; unknown steps leave the state untouched.
 * Not thread-safe.
 */
public final class FusionEngine {
  private final FusionConfig config;
  private double[] state;
  private double stateTime;
  private double lastNow;
  private boolean hasLastNow;

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

  /** Forgets the smoothing state and the clock. */
  public void reset() {
    state = null;
    stateTime = Double.NaN;
    hasLastNow = false;
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
    Fusion.Step step = Fusion.step(readings, nowS, config);
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
