package org.fedmultiemo.bridge.assets;

import java.util.Map;
import org.fedmultiemo.bridge.face.FacePreprocessing;
import org.fedmultiemo.bridge.json.Json;

/**
 * The face settings of preprocessing.json, read as tflite_edge.face_pipeline reads them: input
 * shape {@code [1,H,W,1]}, pixel scale/offset (defaults 1/255, 0), label space (default fer7),
 * {@code eval_blur_sigma} (in {@code face} or at the top level; 0 when absent) and the exact
 * kernel {@code face.blur_kernel} written by android_bridge.export_main (recomputed when absent).
 */
public final class FaceConfig {
  /** The preprocessing.json key of the evaluation blur (tflite_edge.face_pipeline). */
  public static final String BLUR_SIGMA_KEY = "eval_blur_sigma";

  private final int height;
  private final int width;
  private final double pixelScale;
  private final double pixelOffset;
  private final String labelSpace;
  private final double blurSigma;
  private final double[] blurKernel;

  FaceConfig(Map<String, Object> preprocessing) {
    String where = "preprocessing.json face";
    Map<String, Object> face = Json.object(Json.field(preprocessing, "face", "preprocessing.json"),
        where);
    int[] shape = Json.ints(Json.field(face, "input_shape", where), where + ".input_shape");
    if (shape.length != 4 || shape[0] != 1 || shape[3] != 1 || shape[1] < 1 || shape[2] < 1) {
      throw new IllegalArgumentException(
          where + ".input_shape must be [1,H,W,1]; got " + java.util.Arrays.toString(shape));
    }
    height = shape[1];
    width = shape[2];
    pixelScale = face.containsKey("pixel_scale")
        ? Json.number(face.get("pixel_scale"), where + ".pixel_scale") : 1.0 / 255.0;
    pixelOffset = face.containsKey("pixel_offset")
        ? Json.number(face.get("pixel_offset"), where + ".pixel_offset") : 0.0;
    labelSpace = face.containsKey("label_space")
        ? Json.string(face.get("label_space"), where + ".label_space") : "fer7";
    blurSigma = blurSigma(preprocessing, face);
    if (face.containsKey("blur_kernel")) {
      blurKernel = Json.doubles(face.get("blur_kernel"), where + ".blur_kernel");
    } else {
      blurKernel = blurSigma > 0 ? FacePreprocessing.gaussianKernel(blurSigma) : new double[] {1.0};
    }
    if (blurKernel.length % 2 != 1) {
      throw new IllegalArgumentException(
          where + ".blur_kernel must have an odd length; got " + blurKernel.length);
    }
  }

  /** eval_blur_sigma of face or the top level (0 when absent), as face_pipeline reads it. */
  private static double blurSigma(Map<String, Object> preprocessing, Map<String, Object> face) {
    Object inFace = face.get(BLUR_SIGMA_KEY);
    Object top = preprocessing.get(BLUR_SIGMA_KEY);
    double sigma = 0.0;
    if (inFace != null && top != null
        && Json.number(inFace, BLUR_SIGMA_KEY) != Json.number(top, BLUR_SIGMA_KEY)) {
      throw new IllegalArgumentException("preprocessing.json gives two different "
          + BLUR_SIGMA_KEY + " values " + inFace + " and " + top);
    }
    if (inFace != null || top != null) {
      sigma = Json.number(inFace != null ? inFace : top, "preprocessing.json " + BLUR_SIGMA_KEY);
    }
    if (!(Double.isFinite(sigma) && sigma >= 0)) {
      throw new IllegalArgumentException(
          "preprocessing.json " + BLUR_SIGMA_KEY + " must be a number >= 0; got " + sigma);
    }
    return sigma;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  public double pixelScale() {
    return pixelScale;
  }

  public double pixelOffset() {
    return pixelOffset;
  }

  /** Label space of the face models' outputs (e.g. "fer7"). */
  public String labelSpace() {
    return labelSpace;
  }

  /** 0 = no blur. */
  public double blurSigma() {
    return blurSigma;
  }

  /** The exact float64 weights computed by the Python side ([1.0] when the blur is off). */
  public double[] blurKernel() {
    return blurKernel.clone();
  }
}
