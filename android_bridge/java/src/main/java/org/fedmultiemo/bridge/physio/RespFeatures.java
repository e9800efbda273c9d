package org.fedmultiemo.bridge.physio;

import static org.fedmultiemo.bridge.physio.SignalMath.arange;
import static org.fedmultiemo.bridge.physio.SignalMath.detrend;
import static org.fedmultiemo.bridge.physio.SignalMath.fill;
import static org.fedmultiemo.bridge.physio.SignalMath.halfWidth;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidBetween;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidCumsum;
import static org.fedmultiemo.bridge.physio.SignalMath.mean;
import static org.fedmultiemo.bridge.physio.SignalMath.movingAverage;
import static org.fedmultiemo.bridge.physio.SignalMath.select;
import static org.fedmultiemo.bridge.physio.SignalMath.std;

import java.util.ArrayList;
import java.util.List;

/** Respiration rate and amplitude from hysteresis breath detection (port of _resp). */
final class RespFeatures {
  private static final int NUM_FEATURES = 2;

  private RespFeatures() {}

  static double[] compute(PhysioFeatures.Window window, PhysioFeatureConfig config) {
    boolean[] valid = PhysioFeatures.validMask(window, config);
    if (valid == null) {
      return SignalMath.nan(NUM_FEATURES);
    }
    double fs = window.fs;
    int n = window.x.length;
    double[] smooth = movingAverage(fill(window.x, valid), halfWidth(config.respSmoothS, fs));
    double[] y = detrend(arange(n), smooth, valid);
    double sd = std(select(y, valid));
    if (!(sd > 0)) {
      return SignalMath.nan(NUM_FEATURES);
    }
    double h = config.respHysteresis * sd;
    List<Integer> up = new ArrayList<>();
    int previous = 0; // last non-zero mark
    for (int i = 0; i < n; i++) {
      int mark = y[i] > h ? 1 : (y[i] < -h ? -1 : 0);
      if (mark == 0) {
        continue;
      }
      if (mark == 1 && previous == -1) {
        up.add(i);
      }
      previous = mark;
    }
    if (up.size() < 2) {
      return SignalMath.nan(NUM_FEATURES);
    }
    int[] invalidC = invalidCumsum(valid);
    List<Double> cycles = new ArrayList<>();
    List<Double> peakToPeak = new ArrayList<>();
    double previousTime = breathTime(y, up.get(0), h, fs);
    for (int j = 0; j + 1 < up.size(); j++) {
      int a = up.get(j);
      int b = up.get(j + 1);
      double time = breathTime(y, b, h, fs);
      if (invalidBetween(invalidC, a, b) == 0) {
        cycles.add(time - previousTime);
        double max = y[a];
        double min = y[a];
        for (int i = a + 1; i < b; i++) {
          max = Math.max(max, y[i]);
          min = Math.min(min, y[i]);
        }
        peakToPeak.add(max - min);
      }
      previousTime = time;
    }
    if (cycles.isEmpty()) {
      return SignalMath.nan(NUM_FEATURES);
    }
    return new double[] {60.0 / mean(toArray(cycles)), mean(toArray(peakToPeak))};
  }

  /** Upward crossing time (k - 1 + (h - y[k-1]) / (y[k] - y[k-1])) / fs. */
  private static double breathTime(double[] y, int k, double h, double fs) {
    return ((k - 1) + (h - y[k - 1]) / (y[k] - y[k - 1])) / fs;
  }

  private static double[] toArray(List<Double> values) {
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }
}
