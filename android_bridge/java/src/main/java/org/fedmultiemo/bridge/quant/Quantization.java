package org.fedmultiemo.bridge.quant;

/**
 * Affine (de)quantization exactly as emocore/quantization.py (TFLite's reference kernels).
 *
 * <pre>
 *   quantize:   q = clamp(round(x / scale) + zero_point, qmin, qmax)
 *   dequantize: x = (q - zero_point) * scale
 * </pre>
 * {@code x / scale} is ONE float32 division ({@code (float) scale}); {@code round} is C's
 * {@code std::round} (halfway cases away from zero, unlike {@link Math#round}); the clamp happens in
 * double before the cast. Dequantization computes {@code (q - zp) * (double) (float) scale} in
 * double (exact) and rounds once to float.
 */
public final class Quantization {
  private Quantization() {}

  /** {@code std::round} on a float: halfway cases go away from zero (2.5 -> 3, -2.5 -> -3). */
  public static float roundHalfAwayFromZero(float v) {
    float truncated = (float) (v < 0 ? Math.ceil(v) : Math.floor(v));
    if (Math.abs(v - truncated) == 0.5f) {
      return truncated + Math.signum(v);
    }
    return (float) Math.rint(v);
  }

  /** {@code x: float[N]} -> quantized values {@code int[N]} in the range of {@code type}. */
  public static int[] quantize(float[] x, double scale, long zeroPoint, QuantizedType type) {
    checkParams(scale, zeroPoint, type);
    float scale32 = (float) scale;
    int[] out = new int[x.length];
    for (int i = 0; i < x.length; i++) {
      if (!Float.isFinite(x[i])) {
        throw new IllegalArgumentException(
            "x must be finite; got " + x[i] + " at index " + i + " (NaN has no quantized value)");
      }
      float scaled = x[i] / scale32;
      double shifted = (double) roundHalfAwayFromZero(scaled) + zeroPoint;
      out[i] = (int) Math.min(Math.max(shifted, type.min()), type.max());
    }
    return out;
  }

  /** Quantized values (any integers) -> {@code float[N]} = (q - zeroPoint) * scale. */
  public static float[] dequantize(int[] q, double scale, long zeroPoint) {
    checkParams(scale, zeroPoint, null);
    double scale32 = (float) scale;
    float[] out = new float[q.length];
    for (int i = 0; i < q.length; i++) {
      out[i] = (float) ((double) (q[i] - zeroPoint) * scale32);
    }
    return out;
  }

  /** Quantized values -> the tensor's raw bytes (two's complement int8 or unsigned uint8). */
  public static byte[] toTensorBytes(int[] q, QuantizedType type) {
    byte[] out = new byte[q.length];
    for (int i = 0; i < q.length; i++) {
      if (q[i] < type.min() || q[i] > type.max()) {
        throw new IllegalArgumentException("q[" + i + "] must lie in [" + type.min() + ", "
            + type.max() + "] for " + type.jsonName() + "; got " + q[i]);
      }
      out[i] = (byte) q[i];
    }
    return out;
  }

  /** A tensor's raw bytes -> quantized values of {@code type}. */
  public static int[] fromTensorBytes(byte[] raw, QuantizedType type) {
    int[] out = new int[raw.length];
    for (int i = 0; i < raw.length; i++) {
      out[i] = type == QuantizedType.UINT8 ? raw[i] & 0xFF : raw[i];
    }
    return out;
  }

  private static void checkParams(double scale, long zeroPoint, QuantizedType type) {
    if (!(Double.isFinite(scale) && scale > 0.0)) {
      throw new IllegalArgumentException("scale must be a positive finite number; got " + scale);
    }
    if (type == null) {
      return;
    }
    if (zeroPoint < type.min() || zeroPoint > type.max()) {
      throw new IllegalArgumentException("zero_point must lie in [" + type.min() + ", "
          + type.max() + "] for " + type.jsonName() + "; got " + zeroPoint);
    }
  }
}
