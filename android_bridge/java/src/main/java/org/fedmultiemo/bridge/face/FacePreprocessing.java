package org.fedmultiemo.bridge.face;

import org.fedmultiemo.bridge.numeric.NumpySum;

/**
 * Face preprocessing, ported from tflite_edge/face_preprocessing.py and the preprocess step of
 * tflite_edge/face_pipeline.py.
 *
 * <p>{@link #matchTrainingBlur}: separable Gaussian, radius {@code ceil(3 sigma)}, weights
 * {@code exp(-k^2 / (2 sigma^2))} normalised to sum 1 (double); rows first, then columns; borders
 * by symmetric reflection ({@code d c b a | a b c d | d c b a}); each output
 * {@code floor(v + 0.5)} clipped to [0, 255]. Each output sample accumulates {@code w[i] * x[j+i]}
 * in kernel order, as the numpy reference does. For bit-exact results use the kernel shipped in the
 * assets' preprocessing.json ({@code face.blur_kernel}); {@link #gaussianKernel} recomputes it with
 * StrictMath.exp and numpy's pairwise sum, but numpy's SIMD exp is not correctly rounded, so single
 * weights may differ in the last bit.
 *
 * <p>{@link #toModelInput}: {@code float(p) / (float) (1 / pixelScale) + (float) pixelOffset}, two
 * float operations per pixel. Pixels are {@code int} values 0..255, row-major {@code [H][W]}.
 */
public final class FacePreprocessing {
  private FacePreprocessing() {}

  /** {@code double[2r+1]} normalised Gaussian weights, r = ceil(3 sigma). */
  public static double[] gaussianKernel(double sigma) {
    if (!(Double.isFinite(sigma) && sigma > 0)) {
      throw new IllegalArgumentException("sigma must be a finite number > 0; got " + sigma);
    }
    int radius = (int) Math.ceil(3.0 * sigma);
    double[] weights = new double[2 * radius + 1];
    for (int i = 0; i < weights.length; i++) {
      double k = i - radius;
      weights[i] = StrictMath.exp(-(k * k) / (2.0 * sigma * sigma));
    }
    double sum = NumpySum.sum(weights);
    for (int i = 0; i < weights.length; i++) {
      weights[i] /= sum;
    }
    return weights;
  }

  /** Blurs {@code pixels: int[H*W]} with {@code sigma} (0 = unchanged copy). */
  public static int[] matchTrainingBlur(int[] pixels, int height, int width, double sigma) {
    if (sigma == 0) {
      checkImage(pixels, height, width);
      return pixels.clone();
    }
    if (!(sigma > 0) || !Double.isFinite(sigma)) {
      throw new IllegalArgumentException("sigma must be >= 0 and finite; got " + sigma);
    }
    return matchTrainingBlur(pixels, height, width, gaussianKernel(sigma));
  }

  /** Blurs {@code pixels: int[H*W]} with explicit odd-length {@code kernel} weights. */
  public static int[] matchTrainingBlur(int[] pixels, int height, int width, double[] kernel) {
    checkImage(pixels, height, width);
    if (kernel == null || kernel.length % 2 != 1) {
      throw new IllegalArgumentException("kernel must have an odd length; got "
          + (kernel == null ? "null" : String.valueOf(kernel.length)));
    }
    int radius = kernel.length / 2;
    if (radius >= Math.min(height, width)) {
      throw new IllegalArgumentException("the kernel needs a " + radius
          + "-px border, more than the image size [" + height + ", " + width + "]");
    }
    double[] rows = new double[height * width];
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        double acc = 0.0;
        for (int i = 0; i < kernel.length; i++) {
          acc += kernel[i] * pixels[y * width + reflect(x + i - radius, width)];
        }
        rows[y * width + x] = acc;
      }
    }
    int[] out = new int[height * width];
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        double acc = 0.0;
        for (int i = 0; i < kernel.length; i++) {
          acc += kernel[i] * rows[reflect(y + i - radius, height) * width + x];
        }
        out[y * width + x] = (int) Math.min(Math.max(Math.floor(acc + 0.5), 0.0), 255.0);
      }
    }
    return out;
  }

  /**
   * Model input {@code float[H*W]}: float(p) / (float) (1 / pixelScale) + (float) pixelOffset, as
   * tflite_edge.face_pipeline does (the training pipeline's {@code cast(float32) / 255.0}).
   */
  public static float[] toModelInput(int[] pixels, double pixelScale, double pixelOffset) {
    if (!(Double.isFinite(pixelScale) && pixelScale > 0) || !Double.isFinite(pixelOffset)) {
      throw new IllegalArgumentException("pixelScale must be a finite number > 0 and pixelOffset "
          + "finite; got " + pixelScale + " and " + pixelOffset);
    }
    float divisor = (float) (1.0 / pixelScale);
    float offset = (float) pixelOffset;
    float[] out = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) {
      checkPixel(pixels[i], i);
      float scaled = (float) pixels[i] / divisor;
      out[i] = scaled + offset;
    }
    return out;
  }

  /** Camera bytes (unsigned 8-bit grey levels) -> pixel values 0..255. */
  public static int[] fromUnsignedBytes(byte[] grey) {
    int[] out = new int[grey.length];
    for (int i = 0; i < grey.length; i++) {
      out[i] = grey[i] & 0xFF;
    }
    return out;
  }

  /** Symmetric reflection of index {@code i} into [0, n) ("d c b a | a b c d | d c b a"). */
  private static int reflect(int i, int n) {
    if (i < 0) {
      return -i - 1;
    }
    if (i >= n) {
      return 2 * n - i - 1;
    }
    return i;
  }

  private static void checkImage(int[] pixels, int height, int width) {
    if (height < 1 || width < 1 || pixels == null || pixels.length != height * width) {
      throw new IllegalArgumentException("pixels must hold height*width = " + height + "*" + width
          + " values; got " + (pixels == null ? "null" : pixels.length + " values"));
    }
    for (int i = 0; i < pixels.length; i++) {
      checkPixel(pixels[i], i);
    }
  }

  private static void checkPixel(int value, int index) {
    if (value < 0 || value > 255) {
      throw new IllegalArgumentException(
          "pixels must be grey levels 0..255; got " + value + " at index " + index);
    }
  }
}
