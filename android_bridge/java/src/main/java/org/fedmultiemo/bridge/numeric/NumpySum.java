package org.fedmultiemo.bridge.numeric;

/**
 * numpy's summation of a contiguous float64 array ({@code ndarray.sum()}, numpy 1.25): fewer than
 * 8 values are added left to right; up to 128 values use 8 interleaved accumulators combined as
 * {@code ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))} plus the remainder left to right; longer arrays
 * split in two halves (a multiple of 8 first) recursively.
 */
public final class NumpySum {
  private NumpySum() {}

  /** Sum of all of {@code a}. */
  public static double sum(double[] a) {
    return sum(a, 0, a.length);
  }

  /** Sum of {@code a[start, start + n)}. */
  public static double sum(double[] a, int start, int n) {
    if (n < 8) {
      double res = 0.0;
      for (int i = 0; i < n; i++) {
        res += a[start + i];
      }
      return res;
    }
    if (n <= 128) {
      double[] r = new double[8];
      System.arraycopy(a, start, r, 0, 8);
      int i = 8;
      for (; i < n - (n % 8); i += 8) {
        for (int j = 0; j < 8; j++) {
          r[j] += a[start + i + j];
        }
      }
      double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
      for (; i < n; i++) {
        res += a[start + i];
      }
      return res;
    }
    int half = n / 2;
    half -= half % 8;
    return sum(a, start, half) + sum(a, start + half, n - half);
  }
}
