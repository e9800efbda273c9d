package org.fedmultiemo.bridge.face;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import org.junit.Test;

public class FacePreprocessingTest {
  @Test
  public void modelInputIsTwoFloatOperations() {
    float[] x = FacePreprocessing.toModelInput(new int[] {0, 1, 128, 255}, 2, 2, 1 / 255.0, 0.0);
    assertArrayEquals(new float[] {0f, 1f / 255f, 128f / 255f, 1f}, x, 0f);
    float[] shifted = FacePreprocessing.toModelInput(new int[] {0, 255}, 1, 2, 1 / 127.5, -1.0);
    assertArrayEquals(new float[] {-1f, 1f}, shifted, 0f);
    assertArrayEquals(new int[] {255, 0, 128},
        FacePreprocessing.fromUnsignedBytes(new byte[] {-1, 0, -128}));
  }

  @Test
  public void badInputsAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.toModelInput(new int[] {0, 300, 0, 0}, 2, 2, 1 / 255.0, 0.0));
    assertEquals("pixels must be grey levels 0..255; got 300 at index 1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.toModelInput(new int[5], 2, 2, 1 / 255.0, 0.0));
    assertEquals("pixels must hold height*width = 2*2 values; got 5 values", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.toModelInput(new int[4], 2, 2, 0.0, 0.0));
    assertEquals("pixelScale must be a finite number > 0 and pixelOffset finite; got 0.0 and 0.0",
        e.getMessage());
  }
}
