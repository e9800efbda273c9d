package org.fedmultiemo.bridge.physio;

/**
 * The primitives of emocore/physio/, operation by operation (double throughout):
 * sequential sums, mean, population std, least-squares slope, detrend, linear interpolation,
 * gap filling, centred moving average and invalid-sample counts.
 */
final class SignalMath {
  private SignalMath() {}

  /** Sequential left-to-right sum (numpy's cumsum(x)[-1]); 0 for an empty array. */
  static double sum(double[] x) {
    if (x.length == 0) {
      return 0.0;
    }
    double s = x[0];
    for (int i = 1; i < x.length; i++) {
      s += x[i];
    }
    return s;
  }

  static double mean(double[] x) {
    return sum(x) / x.length;
  }

  /** Population std: sqrt(sum((x - mean)^2) / n). */
  static double std(double[] x) {
    double m = mean(x);
    double[] d2 = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double d = x[i] - m;
      d2[i] = d * d;
    }
    return Math.sqrt(sum(d2) / x.length);
  }

  /** Least-squares slope sum((t-mt)(x-mx)) / sum((t-mt)^2); NaN when the denominator is 0. */
  static double slope(double[] t, double[] x) {
    double mt = mean(t);
    double mx = mean(x);
    double[] dt2 = new double[t.length];
    double[] prod = new double[t.length];
    for (int i = 0; i < t.length; i++) {
      double dt = t[i] - mt;
      dt2[i] = dt * dt;
      prod[i] = dt * (x[i] - mx);
    }
    double den = sum(dt2);
    return den > 0 ? sum(prod) / den : Double.NaN;
  }

  /** x minus the least-squares line fitted on the samples where {@code fit} is true. */
  static double[] detrend(double[] t, double[] x, boolean[] fit) {
    double[] tf = select(t, fit);
    double[] xf = select(x, fit);
    double slope = slope(tf, xf);
    if (!Double.isFinite(slope)) {
      slope = 0.0;
    }
    double mx = mean(xf);
    double mt = mean(tf);
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] - (mx + slope * (t[i] - mt));
    }
    return out;
  }

  /** Linear interpolation f0 + (f1 - f0) * ((x - x0) / (x1 - x0)), ends held; xp increasing. */
  static double[] interp(double[] xq, double[] xp, double[] fp) {
    double[] out = new double[xq.length];
    int last = xp.length - 1;
    for (int q = 0; q < xq.length; q++) {
      double x = xq[q];
      if (xp.length == 1) {
        out[q] = fp[0];
        continue;
      }
      int j = Math.min(Math.max(searchRight(xp, x), 1), last);
      double v = fp[j - 1] + (fp[j] - fp[j - 1]) * ((x - xp[j - 1]) / (xp[j] - xp[j - 1]));
      if (x <= xp[0]) {
        v = fp[0];
      }
      if (x >= xp[last]) {
        v = fp[last];
      }
      out[q] = v;
    }
    return out;
  }

  /** numpy searchsorted(a, x, side="right"): the number of elements of sorted a that are <= x. */
  static int searchRight(double[] a, double x) {
    int lo = 0;
    int hi = a.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (a[mid] <= x) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** Invalid samples replaced by linear interpolation between valid neighbours (ends held). */
  static double[] fill(double[] x, boolean[] valid) {
    int numValid = count(valid);
    if (numValid == x.length) {
      return x;
    }
    double[] xp = new double[numValid];
    double[] fp = new double[numValid];
    double[] xq = new double[x.length - numValid];
    int v = 0;
    int q = 0;
    for (int i = 0; i < x.length; i++) {
      if (valid[i]) {
        xp[v] = i;
        fp[v++] = x[i];
      } else {
        xq[q++] = i;
      }
    }
    double[] filled = interp(xq, xp, fp);
    double[] out = x.clone();
    q = 0;
    for (int i = 0; i < x.length; i++) {
      if (!valid[i]) {
        out[i] = filled[q++];
      }
    }
    return out;
  }

  /** Half-width in samples of a {@code widthS}-second average: floor(0.5 * w * fs + 0.5). */
  static int halfWidth(double widthS, double rate) {
    return (int) Math.floor(0.5 * widthS * rate + 0.5);
  }

  /** Centred moving average (c[hi] - c[lo]) / (hi - lo) with c = [0, cumsum(x)]. */
  static double[] movingAverage(double[] x, int half) {
    int n = x.length;
    double[] c = new double[n + 1];
    if (n > 0) {
      c[1] = x[0];
      for (int i = 1; i < n; i++) {
        c[i + 1] = c[i] + x[i];
      }
    }
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      int lo = Math.max(i - half, 0);
      int hi = Math.min(i + half + 1, n);
      out[i] = (c[hi] - c[lo]) / (double) (hi - lo);
    }
    return out;
  }

  /** c = [0, cumsum(!valid)], for {@link #invalidBetween}. */
  static int[] invalidCumsum(boolean[] valid) {
    int[] c = new int[valid.length + 1];
    for (int i = 0; i < valid.length; i++) {
      c[i + 1] = c[i] + (valid[i] ? 0 : 1);
    }
    return c;
  }

  /** Number of invalid samples in [a, b]. */
  static int invalidBetween(int[] invalidCumsum, int a, int b) {
    return invalidCumsum[b + 1] - invalidCumsum[a];
  }

  static boolean[] finite(double[] x) {
    boolean[] out = new boolean[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = Double.isFinite(x[i]);
    }
    return out;
  }

  static int count(boolean[] mask) {
    int n = 0;
    for (boolean b : mask) {
      if (b) {
        n++;
      }
    }
    return n;
  }

  /** x[mask] */
  static double[] select(double[] x, boolean[] mask) {
    double[] out = new double[count(mask)];
    int k = 0;
    for (int i = 0; i < x.length; i++) {
      if (mask[i]) {
        out[k++] = x[i];
      }
    }
    return out;
  }

  /** i / (60 fs) for i in [0, n): sample times in minutes. */
  static double[] minutes(int n, double fs) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = i / (60.0 * fs);
    }
    return out;
  }

  /** [0, 1, ..., n-1] as doubles. */
  static double[] arange(int n) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = i;
    }
    return out;
  }

  static double[] nan(int n) {
    double[] out = new double[n];
    java.util.Arrays.fill(out, Double.NaN);
    return out;
  }
}
