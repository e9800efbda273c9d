package org.fedmultiemo.bridge.face;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import org.junit.Test;

public class FacePreprocessingTest {
  @Test
  public void kernelIsNormalisedSymmetricWithRadiusCeil3Sigma() {
    double[] k = FacePreprocessing.gaussianKernel(3.0);
    assertEquals(19, k.length);
    double sum = 0;
    for (int i = 0; i < k.length; i++) {
      sum += k[i];
      assertEquals(k[i], k[k.length - 1 - i], 0.0);
    }
    assertEquals(1.0, sum, 1e-15);
    assertTrue(k[9] > k[8]);
    assertEquals(9, FacePreprocessing.gaussianKernel(1.1).length); // radius ceil(3.3) = 4
  }

  @Test
  public void constantImageStaysConstantAndSigmaZeroCopies() {
    int[] flat = new int[48 * 48];
    Arrays.fill(flat, 77);
    assertArrayEquals(flat, FacePreprocessing.matchTrainingBlur(flat, 48, 48, 3.0));
    int[] copy = FacePreprocessing.matchTrainingBlur(flat, 48, 48, 0.0);
    assertArrayEquals(flat, copy);
    assertTrue(copy != flat);
  }

  @Test
  public void reflectionKeepsMassAtTheBorder() {
    // A bright first column reflects into itself: blurred values there stay above the interior.
    int h = 5;
    int w = 6;
    int[] img = new int[h * w];
    for (int y = 0; y < h; y++) {
      img[y * w] = 255;
    }
    double[] box = {0.25, 0.5, 0.25};
    int[] out = FacePreprocessing.matchTrainingBlur(img, h, w, box);
    // column 0: 0.25*255 (reflected) + 0.5*255 + 0.25*0 = 191.25 -> 191; column 1: 63.75 -> 64
    for (int y = 0; y < h; y++) {
      assertEquals(191, out[y * w]);
      assertEquals(64, out[y * w + 1]);
      assertEquals(0, out[y * w + 2]);
    }
  }

  @Test
  public void modelInputIsTwoFloatOperations() {
    float[] x = FacePreprocessing.toModelInput(new int[] {0, 1, 128, 255}, 1 / 255.0, 0.0);
    assertArrayEquals(new float[] {0f, 1f / 255f, 128f / 255f, 1f}, x, 0f);
    assertArrayEquals(new int[] {255, 0, 128},
        FacePreprocessing.fromUnsignedBytes(new byte[] {-1, 0, -128}));
  }

  @Test
  public void badInputsAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.matchTrainingBlur(new int[] {0, 300, 0, 0}, 2, 2, 0.0));
    assertEquals("pixels must be grey levels 0..255; got 300 at index 1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.matchTrainingBlur(new int[16], 4, 4, 3.0));
    assertEquals("the kernel needs a 9-px border, more than the image size [4, 4]",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.matchTrainingBlur(new int[5], 2, 2, 1.0));
    assertEquals("pixels must hold height*width = 2*2 values; got 5 values", e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> FacePreprocessing.matchTrainingBlur(new int[4], 2, 2, -1.0));
  }
}
