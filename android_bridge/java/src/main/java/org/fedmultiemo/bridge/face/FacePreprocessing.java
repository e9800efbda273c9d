package org.fedmultiemo.bridge.face;

/**
 * Face preprocessing, ported from the preprocess step of tflite_edge/face_pipeline.py.
 *
 * <p>{@link #toModelInput}: {@code float(p) / (float) (1 / pixelScale) + (float) pixelOffset}, two
 * float operations per pixel. Pixels are {@code int} values 0..255, row-major {@code [H][W]}.
 */
public final class FacePreprocessing {
  private FacePreprocessing() {}

  /**
   * Model input {@code float[H*W]} of crop {@code pixels: int[H*W]}: float(p) / (float) (1 /
   * pixelScale) + (float) pixelOffset, as tflite_edge.face_pipeline does (the training pipeline's
   * {@code cast(float32) / 255.0}).
   */
  public static float[] toModelInput(int[] pixels, int height, int width, double pixelScale,
      double pixelOffset) {
    if (height < 1 || width < 1 || pixels == null || pixels.length != height * width) {
      throw new IllegalArgumentException("pixels must hold height*width = " + height + "*" + width
          + " values; got " + (pixels == null ? "null" : pixels.length + " values"));
    }
    if (!(Double.isFinite(pixelScale) && pixelScale > 0) || !Double.isFinite(pixelOffset)) {
      throw new IllegalArgumentException("pixelScale must be a finite number > 0 and pixelOffset "
          + "finite; got " + pixelScale + " and " + pixelOffset);
    }
    float divisor = (float) (1.0 / pixelScale);
    float offset = (float) pixelOffset;
    float[] out = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) {
      if (pixels[i] < 0 || pixels[i] > 255) {
        throw new IllegalArgumentException(
            "pixels must be grey levels 0..255; got " + pixels[i] + " at index " + i);
      }
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
}
