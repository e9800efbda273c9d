package org.fedmultiemo.bridge.numeric;

import static org.junit.Assert.assertEquals;

import java.util.Arrays;
import org.junit.Test;

public class NumpySumTest {
  @Test
  public void matchesNumpy() {
    // Values from numpy 1.25: np.sum differs from a sequential sum on these arrays.
    double[] a = new double[19];
    Arrays.fill(a, 1.0);
    a[0] = 1e16;
    assertEquals(1.0000000000000016e16, NumpySum.sum(a), 0.0);
    double[] b = new double[300];
    for (int i = 0; i < b.length; i++) {
      b[i] = i % 7 == 0 ? 1e15 : 0.1;
    }
    assertEquals(4.300000000000003e16, NumpySum.sum(b), 0.0);
  }

  @Test
  public void shortArraysAddLeftToRight() {
    assertEquals(1e16, NumpySum.sum(new double[] {1e16, 1.0, 1.0}), 0.0);
    assertEquals(0.0, NumpySum.sum(new double[0]), 0.0);
  }
}
