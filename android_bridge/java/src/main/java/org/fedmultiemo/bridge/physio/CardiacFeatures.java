package org.fedmultiemo.bridge.physio;

import static org.fedmultiemo.bridge.physio.SignalMath.detrend;
import static org.fedmultiemo.bridge.physio.SignalMath.fill;
import static org.fedmultiemo.bridge.physio.SignalMath.halfWidth;
import static org.fedmultiemo.bridge.physio.SignalMath.interp;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidBetween;
import static org.fedmultiemo.bridge.physio.SignalMath.invalidCumsum;
import static org.fedmultiemo.bridge.physio.SignalMath.mean;
import static org.fedmultiemo.bridge.physio.SignalMath.movingAverage;
import static org.fedmultiemo.bridge.physio.SignalMath.std;
import static org.fedmultiemo.bridge.physio.SignalMath.sum;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Cardiac features (port of _cardiac, _rr_from_hr, _rr_from_waveform, _rr_select, _lf_hf). */
final class CardiacFeatures {
  private static final double QRS_ENERGY_S = 0.1;
  private static final double ECG_BASELINE_S = 0.2;
  private static final double BVP_SMOOTH_S = 0.1;
  private static final double BVP_BASELINE_S = 1.0;
  private static final double BEAT_BLOCK_S = 2.0;
  private static final double LF_LOW = 0.04;
  private static final double LF_HIGH = 0.15;
  private static final double HF_LOW = 0.15;
  private static final double HF_HIGH = 0.40;
  private static final int NUM_FEATURES = 5;

  private CardiacFeatures() {}

  /** RR intervals (s), their end times (s) and the index of each interval's first beat pair. */
  private static final class Rr {
    final double[] rr;
    final double[] end;
    final int[] startBeat;

    Rr(double[] rr, double[] end, int[] startBeat) {
      this.rr = rr;
      this.end = end;
      this.startBeat = startBeat;
    }

    static Rr empty() {
      return new Rr(new double[0], new double[0], new int[0]);
    }
  }

  static double[] compute(Map<String, PhysioFeatures.Window> windows, PhysioFeatureConfig config) {
    String source = config.cardiacSource;
    if (source.equals("auto")) {
      source = "hr";
      for (String s : new String[] {"hr", "ecg", "bvp"}) {
        if (windows.containsKey(s)) {
          source = s;
          break;
        }
      }
    }
    PhysioFeatures.Window window = windows.get(source);
    if (window == null) {
      return SignalMath.nan(NUM_FEATURES);
    }
    if (source.equals("hr")) {
      double[] x = new double[window.x.length];
      for (int i = 0; i < x.length; i++) {
        double v = window.x[i];
        x[i] = v >= config.hrMinBpm && v <= config.hrMaxBpm ? v : Double.NaN;
      }
      window = new PhysioFeatures.Window(x, window.fs, window.n);
    }
    boolean[] valid = PhysioFeatures.validMask(window, config);
    if (valid == null) {
      return SignalMath.nan(NUM_FEATURES);
    }
    Rr rr = source.equals("hr")
        ? rrFromHr(window.x, valid, window.fs, config)
        : rrFromWaveform(window.x, valid, window.fs, source, config);
    return fromRr(rr, config);
  }

  /** Integrate-and-fire beats from an HR series. */
  private static Rr rrFromHr(double[] x, boolean[] valid, double fs, PhysioFeatureConfig config) {
    int n = x.length;
    double[] cEnd = new double[n];
    double[] cStart = new double[n];
    for (int i = 0; i < n; i++) {
      double inc = valid[i] ? x[i] / (60.0 * fs) : 0.0;
      cEnd[i] = i == 0 ? inc : cEnd[i - 1] + inc;
      cStart[i] = i == 0 ? 0.0 : cEnd[i - 1];
    }
    // Phases restart at 0 in every run of valid samples: base = cStart at the run's first sample.
    List<Double> times = new ArrayList<>();
    List<Integer> runs = new ArrayList<>();
    double base = 0.0;
    int runId = 0;
    for (int i = 0; i < n; i++) {
      if (valid[i] && (i == 0 || !valid[i - 1])) {
        runId++;
        base = cStart[i];
      }
      if (!valid[i]) {
        continue;
      }
      double p0 = cStart[i] - base;
      double p1 = cEnd[i] - base;
      long count = (long) (Math.floor(p1) - Math.floor(p0));
      for (long rank = 0; rank < count; rank++) {
        double m = Math.floor(p0) + 1.0 + rank;
        times.add(((double) i + (m - p0) / (p1 - p0)) / fs);
        runs.add(runId);
      }
    }
    if (times.isEmpty()) {
      return Rr.empty();
    }
    double[] t = new double[times.size()];
    boolean[] linked = new boolean[Math.max(t.length - 1, 0)];
    for (int k = 0; k < t.length; k++) {
      t[k] = times.get(k);
      if (k > 0) {
        linked[k - 1] = runs.get(k).equals(runs.get(k - 1));
      }
    }
    return select(t, linked, config);
  }

  /** Peak-detected beats from ECG/BVP. */
  private static Rr rrFromWaveform(double[] x, boolean[] valid, double fs, String source,
      PhysioFeatureConfig config) {
    int n = x.length;
    double[] xf = fill(x, valid);
    double[] e;
    if (source.equals("ecg")) {
      double[] d2 = new double[n];
      for (int i = 1; i < n - 1; i++) {
        double d = xf[i + 1] - xf[i - 1];
        d2[i] = d * d;
      }
      e = movingAverage(d2, halfWidth(QRS_ENERGY_S, fs));
    } else {
      double[] smooth = movingAverage(xf, halfWidth(BVP_SMOOTH_S, fs));
      double[] baseline = movingAverage(xf, halfWidth(BVP_BASELINE_S, fs));
      e = new double[n];
      for (int i = 0; i < n; i++) {
        e[i] = Math.max(smooth[i] - baseline[i], 0.0);
      }
    }
    int block = Math.max((int) Math.floor(BEAT_BLOCK_S * fs + 0.5), 1);
    double[] maxima = new double[(n + block - 1) / block];
    int numMaxima = 0;
    for (int start = 0; start < n; start += block) {
      double m = Double.NEGATIVE_INFINITY;
      for (int i = start; i < Math.min(start + block, n); i++) {
        double v = valid[i] ? e[i] : Double.NEGATIVE_INFINITY;
        if (v > m) {
          m = v;
        }
      }
      if (Double.isFinite(m)) {
        maxima[numMaxima++] = m;
      }
    }
    if (numMaxima == 0) {
      return Rr.empty();
    }
    maxima = Arrays.copyOf(maxima, numMaxima);
    Arrays.sort(maxima);
    int mid = numMaxima / 2;
    double median = numMaxima % 2 == 1 ? maxima[mid] : 0.5 * (maxima[mid - 1] + maxima[mid]);
    double thr = config.beatThreshold * median;
    double refractory = 60.0 / config.hrMaxBpm * fs;
    List<Integer> kept = new ArrayList<>();
    for (int i = 1; i < n - 1; i++) {
      boolean candidate = e[i] > e[i - 1] && e[i] >= e[i + 1] && e[i] > thr && valid[i];
      if (!candidate) {
        continue;
      }
      if (!kept.isEmpty() && i - kept.get(kept.size() - 1) < refractory) {
        if (e[i] > e[kept.get(kept.size() - 1)]) {
          kept.set(kept.size() - 1, i);
        }
      } else {
        kept.add(i);
      }
    }
    if (kept.size() < 2) {
      return Rr.empty();
    }
    int[] peaks = new int[kept.size()];
    for (int k = 0; k < peaks.length; k++) {
      peaks[k] = kept.get(k);
    }
    if (source.equals("ecg")) {
      // The energy envelope is flat-topped: place the beat on the R extremum instead.
      double[] baseline = movingAverage(xf, halfWidth(ECG_BASELINE_S, fs));
      e = new double[n];
      for (int i = 0; i < n; i++) {
        e[i] = Math.abs(xf[i] - baseline[i]);
      }
      int h = halfWidth(QRS_ENERGY_S, fs);
      for (int k = 0; k < peaks.length; k++) {
        int best = -1;
        for (int o = -h; o <= h; o++) {
          int idx = Math.min(Math.max(peaks[k] + o, 1), n - 2);
          if (best < 0 || e[idx] > e[best]) {
            best = idx;
          }
        }
        peaks[k] = best;
      }
    }
    double[] times = new double[peaks.length];
    for (int k = 0; k < peaks.length; k++) {
      int p = peaks[k];
      double em = e[p - 1];
      double e0 = e[p];
      double ep = e[p + 1];
      double den = em - 2.0 * e0 + ep;
      double delta = den < 0 ? 0.5 * (em - ep) / den : 0.0;
      delta = Math.min(Math.max(delta, -0.5), 0.5);
      times[k] = (p + delta) / fs;
    }
    int[] invalidC = invalidCumsum(valid);
    boolean[] clean = new boolean[peaks.length - 1];
    for (int k = 0; k < clean.length; k++) {
      clean[k] = invalidBetween(invalidC, peaks[k], peaks[k + 1]) == 0;
    }
    return select(times, clean, config);
  }

  /** RR between linked consecutive beats within the plausible HR range. */
  private static Rr select(double[] times, boolean[] linked, PhysioFeatureConfig config) {
    int m = Math.max(times.length - 1, 0);
    double lo = 60.0 / config.hrMaxBpm;
    double hi = 60.0 / config.hrMinBpm;
    double[] rr = new double[m];
    double[] end = new double[m];
    int[] start = new int[m];
    int k = 0;
    for (int i = 0; i < m; i++) {
      double r = times[i + 1] - times[i];
      if (linked[i] && r >= lo && r <= hi) {
        rr[k] = r;
        end[k] = times[i + 1];
        start[k++] = i;
      }
    }
    return new Rr(Arrays.copyOf(rr, k), Arrays.copyOf(end, k), Arrays.copyOf(start, k));
  }

  private static double[] fromRr(Rr rr, PhysioFeatureConfig config) {
    int m = rr.rr.length;
    if (m < config.minRrIntervals) {
      return SignalMath.nan(NUM_FEATURES);
    }
    double[] ihr = new double[m];
    for (int i = 0; i < m; i++) {
      ihr[i] = 60.0 / rr.rr[i];
    }
    List<Double> squares = new ArrayList<>();
    for (int i = 0; i + 1 < m; i++) {
      if (rr.startBeat[i + 1] == rr.startBeat[i] + 1) {
        double d = rr.rr[i + 1] - rr.rr[i];
        squares.add(d * d);
      }
    }
    double rmssd = Double.NaN;
    if (!squares.isEmpty()) {
      double[] sq = new double[squares.size()];
      for (int i = 0; i < sq.length; i++) {
        sq[i] = squares.get(i);
      }
      rmssd = 1000.0 * Math.sqrt(mean(sq));
    }
    return new double[] {mean(ihr), std(ihr), 1000.0 * std(rr.rr), rmssd,
        lfHf(rr.rr, rr.end, config)};
  }

  private static double lfHf(double[] rr, double[] rrEnd, PhysioFeatureConfig config) {
    double span = rrEnd[rrEnd.length - 1] - rrEnd[0];
    if (config.windowS < config.lfHfMinWindowS
        || span < config.minValidFraction * config.windowS) {
      return Double.NaN;
    }
    double fr = config.rrResampleHz;
    int n = (int) Math.floor(span * fr) + 1;
    double[] j = SignalMath.arange(n);
    double[] grid = new double[n];
    for (int i = 0; i < n; i++) {
      grid[i] = rrEnd[0] + j[i] / fr;
    }
    boolean[] all = new boolean[n];
    Arrays.fill(all, true);
    double[] tach = detrend(j, interp(grid, rrEnd, rr), all);
    List<Integer> lf = new ArrayList<>();
    List<Integer> hf = new ArrayList<>();
    for (int k = 1; k <= n / 2; k++) {
      double f = (double) k * fr / n;
      if (f >= LF_LOW && f < LF_HIGH) {
        lf.add(k);
      }
      if (f >= HF_LOW && f < HF_HIGH) {
        hf.add(k);
      }
    }
    if (lf.isEmpty() || hf.isEmpty()) {
      return Double.NaN;
    }
    double lfPower = sum(dftPower(tach, lf));
    double hfPower = sum(dftPower(tach, hf));
    return hfPower > 0 ? lfPower / hfPower : Double.NaN;
  }

  /** |DFT|^2 of x at integer bins; angles ((k j) mod N) * (2 pi / N); sums sequential. */
  private static double[] dftPower(double[] x, List<Integer> bins) {
    int n = x.length;
    double step = 2.0 * Math.PI / n;
    double[] out = new double[bins.size()];
    for (int b = 0; b < out.length; b++) {
      long k = bins.get(b);
      double re = 0.0;
      double im = 0.0;
      for (int j = 0; j < n; j++) {
        double angle = (double) ((k * j) % n) * step;
        double c = x[j] * StrictMath.cos(angle);
        double s = x[j] * StrictMath.sin(angle);
        re = j == 0 ? c : re + c;
        im = j == 0 ? s : im + s;
      }
      out[b] = re * re + im * im;
    }
    return out;
  }
}
