package org.fedmultiemo.bridge.physio;

/**
 * One raw signal: {@code values: double[N]} (NaN/Inf = dropout) sampled at {@code rateHz}.
 * The array is used as given (not copied): do not modify it while extracting features.
 */
public final class Signal {
  private final double[] values;
  private final double rateHz;

  public Signal(double[] values, double rateHz) {
    if (values == null) {
      throw new IllegalArgumentException("values must be a double[]; got null");
    }
    if (!(Double.isFinite(rateHz) && rateHz > 0)) {
      throw new IllegalArgumentException("rateHz must be a finite number > 0; got " + rateHz);
    }
    this.values = values;
    this.rateHz = rateHz;
  }

  public double[] values() {
    return values;
  }

  public double rateHz() {
    return rateHz;
  }
}
