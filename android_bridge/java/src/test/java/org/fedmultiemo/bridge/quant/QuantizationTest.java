package org.fedmultiemo.bridge.quant;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class QuantizationTest {
  @Test
  public void halfwayCasesRoundAwayFromZero() {
    assertEquals(3f, Quantization.roundHalfAwayFromZero(2.5f), 0f);
    assertEquals(-3f, Quantization.roundHalfAwayFromZero(-2.5f), 0f);
    assertEquals(2f, Quantization.roundHalfAwayFromZero(2.4999998f), 0f);
    assertEquals(1f, Quantization.roundHalfAwayFromZero(0.5f), 0f);
    int[] q = Quantization.quantize(new float[] {1.25f, -1.25f, 0.75f, -0.25f}, 0.5, 0,
        QuantizedType.INT8);
    assertArrayEquals(new int[] {3, -3, 2, -1}, q); // 2.5 -> 3, -2.5 -> -3, 1.5 -> 2, -0.5 -> -1
  }

  @Test
  public void clampsToTheTypeRangeAndAddsTheZeroPoint() {
    assertArrayEquals(new int[] {0, 0, 255, 255},
        Quantization.quantize(new float[] {-1f, 0f, 1f, 2f}, 1 / 255.0, 0, QuantizedType.UINT8));
    assertArrayEquals(new int[] {-128, -125, -120, 127},
        Quantization.quantize(new float[] {-5f, 0f, 5f, 300f}, 1.0, -125, QuantizedType.INT8));
  }

  @Test
  public void dequantizeRoundsTheScaleToFloatFirst() {
    float[] x = Quantization.dequantize(new int[] {-128, 0, 127}, 0.1, 7);
    assertArrayEquals(new float[] {(float) (-135 * (double) 0.1f), (float) (-7 * (double) 0.1f),
        (float) (120 * (double) 0.1f)}, x, 0f);
  }

  @Test
  public void tensorBytesRoundTrip() {
    int[] q = {0, 127, 128, 255};
    byte[] raw = Quantization.toTensorBytes(q, QuantizedType.UINT8);
    assertArrayEquals(new byte[] {0, 127, -128, -1}, raw);
    assertArrayEquals(q, Quantization.fromTensorBytes(raw, QuantizedType.UINT8));
    assertArrayEquals(new int[] {0, 127, -128, -1},
        Quantization.fromTensorBytes(raw, QuantizedType.INT8));
    assertThrows(IllegalArgumentException.class,
        () -> Quantization.toTensorBytes(new int[] {200}, QuantizedType.INT8));
  }

  @Test
  public void badInputsAreRejectedWithTheArgumentName() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Quantization.quantize(new float[] {Float.NaN}, 0.1, 0, QuantizedType.INT8));
    assertEquals("x must be finite; got NaN at index 0 (NaN has no quantized value)",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Quantization.quantize(new float[] {0f}, 0.0, 0, QuantizedType.INT8));
    assertEquals("scale must be a positive finite number; got 0.0", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Quantization.quantize(new float[] {0f}, 0.1, 300, QuantizedType.UINT8));
    assertEquals("zero_point must lie in [0, 255] for uint8; got 300", e.getMessage());
  }
}
