package org.fedmultiemo.bridge.physio;

import static org.fedmultiemo.bridge.physio.SignalMath.mean;
import static org.fedmultiemo.bridge.physio.SignalMath.minutes;
import static org.fedmultiemo.bridge.physio.SignalMath.select;
import static org.fedmultiemo.bridge.physio.SignalMath.slope;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Physiological window features: a faithful port of emocore/physio/
 * ({@code extract_window}); the module docstring there documents every step. double internally,
 * sequential left-to-right sums, StrictMath for cos/sin, float output.
 *
 * <p>Signals (any subset; absent or null -> that group's features NaN): ecg, bvp (>= 10 Hz), hr
 * (bpm), eda, temp, resp. A window holds the last {@code floor(window_s * fs + 0.5)} samples of
 * each signal; shorter arrays are windows that have not filled yet.
 */
public final class PhysioFeatures {
  public static final List<String> SIGNAL_KINDS = Collections.unmodifiableList(
      Arrays.asList("ecg", "bvp", "hr", "eda", "temp", "resp"));
  /** ecg/bvp below this rate cannot place beats to a useful precision. */
  public static final double MIN_BEAT_RATE_HZ = 10.0;

  private PhysioFeatures() {}

  /** The current window of one signal: samples x, rate fs and the full window length n. */
  static final class Window {
    final double[] x;
    final double fs;
    final int n;

    Window(double[] x, double fs, int n) {
      this.x = x;
      this.fs = fs;
      this.n = n;
    }
  }

  /** Samples in a window of {@code windowS} seconds: floor(windowS * rateHz + 0.5). */
  public static int windowNumSamples(double windowS, double rateHz) {
    return (int) Math.floor(windowS * rateHz + 0.5);
  }

  /** The ordered feature names of {@code config}. */
  public static List<String> featureNames(PhysioFeatureConfig config) {
    return config.featureNames();
  }

  /**
   * Features {@code float[F]} (order: {@link #featureNames}) of the last {@code window_s} of each
   * signal. With {@code config.strict}, a signal with fewer samples than one window throws.
   */
  public static float[] extractWindow(Map<String, Signal> signals, PhysioFeatureConfig config) {
    if (signals == null || config == null) {
      throw new IllegalArgumentException("signals and config must not be null");
    }
    Map<String, Window> windows = new LinkedHashMap<>();
    for (Map.Entry<String, Signal> entry : signals.entrySet()) {
      String name = entry.getKey();
      if (!SIGNAL_KINDS.contains(name)) {
        throw new IllegalArgumentException("signals has unknown signal '" + name
            + "'; expected names from " + SIGNAL_KINDS);
      }
      Signal signal = entry.getValue();
      if (signal == null) {
        continue;
      }
      double rate = signal.rateHz();
      if ((name.equals("ecg") || name.equals("bvp")) && rate < MIN_BEAT_RATE_HZ) {
        throw new IllegalArgumentException("signals['" + name + "'].rate_hz must be >= "
            + MIN_BEAT_RATE_HZ + " Hz for beat detection; got " + rate);
      }
      double[] values = signal.values();
      int n = windowNumSamples(config.windowS, rate);
      if (config.strict && values.length < n) {
        throw new IllegalArgumentException("signals['" + name + "'] must hold at least " + n
            + " samples (window_s=" + config.windowS + " s at " + rate
            + " Hz) because config.strict is set; got " + values.length);
      }
      double[] x = Arrays.copyOfRange(values, Math.max(values.length - n, 0), values.length);
      windows.put(name, new Window(x, rate, n));
    }
    double[] out = new double[config.featureNames().size()];
    int k = 0;
    for (String group : config.groups) {
      double[] part;
      switch (group) {
        case "cardiac":
          part = CardiacFeatures.compute(windows, config);
          break;
        case "eda":
          part = EdaFeatures.compute(windows.get("eda"), config);
          break;
        case "temp":
          part = temp(windows.get("temp"), config);
          break;
        default:
          part = RespFeatures.compute(windows.get("resp"), config);
          break;
      }
      System.arraycopy(part, 0, out, k, part.length);
      k += part.length;
    }
    float[] features = new float[out.length];
    for (int i = 0; i < out.length; i++) {
      features[i] = (float) out[i];
    }
    return features;
  }

  /** Valid (finite) mask when the window holds enough valid samples, else null ("missing"). */
  static boolean[] validMask(Window window, PhysioFeatureConfig config) {
    if (window == null) {
      return null;
    }
    boolean[] valid = SignalMath.finite(window.x);
    if (window.x.length < 2 || SignalMath.count(valid) < config.minValidFraction * window.n) {
      return null;
    }
    return valid;
  }

  private static double[] temp(Window window, PhysioFeatureConfig config) {
    boolean[] valid = validMask(window, config);
    if (valid == null) {
      return SignalMath.nan(2);
    }
    double[] x = select(window.x, valid);
    return new double[] {mean(x), slope(select(minutes(window.x.length, window.fs), valid), x)};
  }
}
