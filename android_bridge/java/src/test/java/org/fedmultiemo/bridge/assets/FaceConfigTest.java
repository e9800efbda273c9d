package org.fedmultiemo.bridge.assets;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.Map;
import org.fedmultiemo.bridge.json.Json;
import org.junit.Test;

public class FaceConfigTest {
  private static final String REFUSAL = "bundle 'old/fedmultiemo': preprocessing.json asks for a"
      + " face blur (sigma 3.0), which this version no longer applies (the FER2013 training"
      + " images are sharp now); re-export the bundle with python -m converters.export_main,"
      + " then the assets with python -m android_bridge.export_main";

  private static FaceConfig config(String preprocessingJson) {
    Map<String, Object> preprocessing = Json.object(Json.parse(preprocessingJson), "test");
    return new FaceConfig(preprocessing, "old/fedmultiemo");
  }

  @Test
  public void readsShapeScaleOffsetAndLabelSpace() {
    FaceConfig face = config("{\"face\": {\"input_shape\": [1, 48, 40, 1], \"pixel_scale\": 0.5,"
        + " \"pixel_offset\": -1.0, \"label_space\": \"fer7\"}}");
    assertEquals(48, face.height());
    assertEquals(40, face.width());
    assertEquals(0.5, face.pixelScale(), 0.0);
    assertEquals(-1.0, face.pixelOffset(), 0.0);
    assertEquals("fer7", face.labelSpace());
  }

  @Test
  public void oldAssetsWithoutABlurStillLoad() {
    FaceConfig face = config("{\"face\": {\"input_shape\": [1, 48, 48, 1], \"eval_blur_sigma\":"
        + " 0.0, \"blur_kernel\": [1.0]}, \"eval_blur_sigma\": 0}");
    assertEquals(1.0 / 255.0, face.pixelScale(), 0.0);
  }

  @Test
  public void oldAssetsAskingForAFaceBlurAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> config("{\"face\": {\"input_shape\": [1, 48, 48, 1], \"eval_blur_sigma\": 3.0}}"));
    assertEquals(REFUSAL, e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> config("{\"face\": {\"input_shape\": [1, 48, 48, 1]}, \"eval_blur_sigma\": 3.0}"));
    assertEquals(REFUSAL, e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> config("{\"face\": {\"input_shape\": [1, 48, 48, 1], \"eval_blur_sigma\": \"3\"}}"));
    assertEquals(REFUSAL.replace("sigma 3.0", "sigma '3'"), e.getMessage());
  }
}
