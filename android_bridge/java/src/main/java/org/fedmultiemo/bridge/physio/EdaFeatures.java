package org.fedmultiemo.bridge.physio;

import static org.fedmultiemo.bridge.physio.SignalMath.fill;
import static org.fedmultiemo.bridge.physio.SignalMath.halfWidth;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidBetween;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidCumsum;
import static org.fedmultiemo.bridge.physio.SignalMath.mean;
import static org.fedmultiemo.bridge.physio.SignalMath.minutes;
import static org.fedmultiemo.bridge.physio.SignalMath.movingAverage;
import static org.fedmultiemo.bridge.physio.SignalMath.select;
import static org.fedmultiemo.bridge.physio.SignalMath.slope;

import java.util.ArrayList;
import java.util.List;

/** EDA features: tonic level and slope, skin-conductance responses (port of _eda). */
final class EdaFeatures {
  private static final int NUM_FEATURES = 5;

  private EdaFeatures() {}

  static double[] compute(PhysioFeatures.Window window, PhysioFeatureConfig config) {
    boolean[] valid = PhysioFeatures.validMask(window, config);
    if (valid == null) {
      return SignalMath.nan(NUM_FEATURES);
    }
    double fs = window.fs;
    int n = window.x.length;
    double[] xf = fill(window.x, valid);
    double[] tonic = movingAverage(xf, halfWidth(config.edaTonicS, fs));
    double tonicMean = mean(select(tonic, valid));
    double tonicSlope = slope(select(minutes(n, fs), valid), select(tonic, valid));

    double[] s = movingAverage(xf, halfWidth(config.scrSmoothS, fs));
    int m = n - 1;
    double[] d = new double[m];
    boolean[] steep = new boolean[m];
    List<Integer> falls = new ArrayList<>();
    for (int i = 0; i < m; i++) {
      d[i] = s[i + 1] - s[i];
      steep[i] = d[i] * fs > config.scrOnsetSlope;
      if (d[i] <= 0) {
        falls.add(i);
      }
    }
    int[] invalidC = invalidCumsum(valid);
    List<Double> amps = new ArrayList<>();
    List<Double> rises = new ArrayList<>();
    int lastPeak = -1;
    int fall = 0; // index into falls of the first fall >= the current onset
    for (int a = 1; a < m; a++) {
      if (!steep[a] || steep[a - 1]) {
        continue; // not the first index of a steep run (a run starting at 0 is skipped)
      }
      while (fall < falls.size() && falls.get(fall) < a) {
        fall++;
      }
      if (fall == falls.size()) {
        break; // the rise is still going: the next window sees it
      }
      int p = falls.get(fall);
      if (p == lastPeak) {
        continue; // onsets sharing a peak keep the first
      }
      lastPeak = p;
      double amp = s[p] - s[a];
      double rise = (p - a) / fs;
      if (invalidBetween(invalidC, a, p) == 0 && amp >= config.scrThreshold
          && rise >= config.scrMinRiseS && rise <= config.scrMaxRiseS) {
        amps.add(amp);
        rises.add(rise);
      }
    }
    int count = amps.size();
    double ampMean = count > 0 ? mean(toArray(amps)) : 0.0;
    double riseMean = count > 0 ? mean(toArray(rises)) : 0.0;
    return new double[] {tonicMean, tonicSlope, count, ampMean, riseMean};
  }

  private static double[] toArray(List<Double> values) {
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }
}
