package org.fedmultiemo.bridge.assets;

import java.util.Map;
import org.fedmultiemo.bridge.json.Json;

/**
 * The face settings of preprocessing.json, read as tflite_edge.face_pipeline reads them: input
 * shape {@code [1,H,W,1]}, pixel scale/offset (defaults 1/255, 0), label space (default fer7).
 *
 * <p>Schema-1 assets recorded a face blur ({@code eval_blur_sigma} in {@code face} or at the top
 * level) that the edge applied while the FER2013 training images were blurred; as
 * tflite_edge.bundle.load_bundle, assets whose sigma is not 0 are refused.
 */
public final class FaceConfig {
  /** The schema-1 preprocessing.json key of the face blur (refused unless 0). */
  public static final String LEGACY_BLUR_SIGMA_KEY = "eval_blur_sigma";

  private final int height;
  private final int width;
  private final double pixelScale;
  private final double pixelOffset;
  private final String labelSpace;

  /** {@code preprocessing}: the parsed preprocessing.json of the assets {@code bundle}. */
  FaceConfig(Map<String, Object> preprocessing, String bundle) {
    String where = "preprocessing.json face";
    Map<String, Object> face = Json.object(Json.field(preprocessing, "face", "preprocessing.json"),
        where);
    refuseFaceBlur(face, bundle);
    refuseFaceBlur(preprocessing, bundle);
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
  }

  /** Refuses {@code object} (preprocessing.json or its face) asking for a schema-1 face blur. */
  private static void refuseFaceBlur(Map<String, Object> object, String bundle) {
    Object sigma = object.get(LEGACY_BLUR_SIGMA_KEY);
    boolean zero = (sigma instanceof Long && (Long) sigma == 0L)
        || (sigma instanceof Double && (Double) sigma == 0.0);
    if (sigma != null && !zero) {
      throw new IllegalArgumentException("bundle '" + bundle + "': preprocessing.json asks for a "
          + "face blur (sigma " + Json.describe(sigma) + "), which this version no longer applies "
          + "(the FER2013 training images are sharp now); re-export the bundle with python -m "
          + "converters.export_main, then the assets with python -m android_bridge.export_main");
    }
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
}
