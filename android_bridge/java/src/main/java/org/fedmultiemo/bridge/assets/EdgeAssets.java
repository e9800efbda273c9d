package org.fedmultiemo.bridge.assets;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fedmultiemo.bridge.face.FacePreprocessing;
import org.fedmultiemo.bridge.fusion.FusionConfig;
import org.fedmultiemo.bridge.json.Json;
import org.fedmultiemo.bridge.physio.PhysioFeatureConfig;
import org.fedmultiemo.bridge.physio.PhysioSpec;
import org.fedmultiemo.bridge.quant.Quantization;

/**
 * A verified asset bundle (written by android_bridge.export_main): manifest, labels, face
 * preprocessing, model I/O specs, fusion and feature-extractor configs, and model bytes.
 * {@link #load} verifies every file first (see {@link ManifestVerifier}).
 */
public final class EdgeAssets {
  private final AssetSource source;
  private final Map<String, Object> manifest;
  private final Map<String, String> models;
  private final Map<String, List<String>> labels;
  private final FaceConfig face;
  private final Map<String, List<TensorSpec>> inputs;
  private final Map<String, List<TensorSpec>> outputs;
  private final FusionConfig fusionConfig;
  private final PhysioSpec physioSpec;

  private EdgeAssets(AssetSource source, Map<String, Object> manifest) throws IOException {
    this.source = source;
    this.manifest = manifest;
    Map<String, Object> contents = Json.object(manifest.get("contents"), "contents");
    models = stringMap(contents.get("models"), "contents.models");
    Map<String, List<String>> labelMap = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : stringMap(contents.get("labels"), "contents.labels")
        .entrySet()) {
      labelMap.put(e.getKey(), readLabels(e.getValue()));
    }
    labels = Collections.unmodifiableMap(labelMap);
    Map<String, Object> preprocessing = Json.object(Json.parse(ManifestVerifier.readText(source,
        Json.string(contents.get("preprocessing"), "contents.preprocessing"))), "preprocessing");
    face = new FaceConfig(preprocessing, source.describe());
    Map<String, List<TensorSpec>> ins = new LinkedHashMap<>();
    Map<String, List<TensorSpec>> outs = new LinkedHashMap<>();
    Map<String, Object> io = Json.object(Json.field(preprocessing, "models", "preprocessing.json"),
        "preprocessing.json models");
    for (Map.Entry<String, Object> e : io.entrySet()) {
      Map<String, Object> model = Json.object(e.getValue(), "models." + e.getKey());
      ins.put(e.getKey(), specs(model, "inputs", e.getKey()));
      outs.put(e.getKey(), specs(model, "outputs", e.getKey()));
    }
    inputs = Collections.unmodifiableMap(ins);
    outputs = Collections.unmodifiableMap(outs);
    fusionConfig = FusionConfig.fromJson(ManifestVerifier.readText(source,
        Json.string(contents.get("fusion"), "contents.fusion")));
    physioSpec = PhysioSpec.fromJson(Json.object(Json.parse(ManifestVerifier.readText(
        source, Json.string(contents.get("features"), "contents.features"))), "features.json"));
  }

  /**
   * Verifies {@code source} against its manifest, then reads and validates the side files
   * (refusing old assets that ask for a face blur, see {@link FaceConfig}).
   */
  public static EdgeAssets load(AssetSource source) throws IOException {
    Map<String, Object> manifest = ManifestVerifier.verify(source);
    return new EdgeAssets(source, manifest);
  }

  public AssetSource source() {
    return source;
  }

  public Map<String, Object> manifest() {
    return Collections.unmodifiableMap(manifest);
  }

  /** Model role ("face_int8", "physio", ...) -> file name. */
  public Map<String, String> models() {
    return models;
  }

  /** The model roles whose name starts with "face_", sorted. */
  public List<String> faceModelRoles() {
    List<String> out = new ArrayList<>();
    for (String role : models.keySet()) {
      if (role.startsWith("face_")) {
        out.add(role);
      }
    }
    Collections.sort(out);
    return out;
  }

  /** Label role ("face", "physio", "fused") -> labels in model-output order. */
  public Map<String, List<String>> labels() {
    return labels;
  }

  public FaceConfig face() {
    return face;
  }

  public FusionConfig fusionConfig() {
    return fusionConfig;
  }

  /** What the physio model consumes (features.json). */
  public PhysioSpec physioSpec() {
    return physioSpec;
  }

  /** The feature-extractor config, or null when the physio model takes precomputed features. */
  public PhysioFeatureConfig physioConfig() {
    return physioSpec.config();
  }

  /** The single input spec of model file {@code modelFile}. */
  public TensorSpec input(String modelFile) {
    return single(inputs, modelFile, "input");
  }

  /** The single output spec of model file {@code modelFile}. */
  public TensorSpec output(String modelFile) {
    return single(outputs, modelFile, "output");
  }

  /** The bytes of the model with role {@code role} (e.g. for org.tensorflow.lite.Interpreter). */
  public byte[] modelBytes(String role) throws IOException {
    String file = models.get(role);
    if (file == null) {
      throw new IllegalArgumentException("no model role '" + role + "'; have " + models.keySet());
    }
    return ManifestVerifier.readBytes(source, file);
  }

  /**
   * Camera crop {@code pixels: int[H*W]} (grey 0..255) -> the face model's input: scaled to float
   * and, for int8/uint8 inputs, quantized ({@code int[]}).
   */
  public FaceInput prepareFace(int[] pixels, String modelFile) {
    float[] x = FacePreprocessing.toModelInput(pixels, face.height(), face.width(),
        face.pixelScale(), face.pixelOffset());
    TensorSpec spec = input(modelFile);
    int[] q = spec.quantizedType() == null ? null
        : Quantization.quantize(x, spec.scale(), spec.zeroPoint(), spec.quantizedType());
    return new FaceInput(x, q);
  }

  /** The stages of {@link #prepareFace}: float input, quantized input or null. */
  public static final class FaceInput {
    public final float[] input;
    public final int[] quantized;

    FaceInput(float[] input, int[] quantized) {
      this.input = input;
      this.quantized = quantized;
    }
  }

  private List<String> readLabels(String file) throws IOException {
    String text = ManifestVerifier.readText(source, file);
    List<String> lines = new ArrayList<>(Arrays.asList(text.split("\r\n|\r|\n", -1)));
    if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
      lines.remove(lines.size() - 1);
    }
    if (lines.isEmpty() || lines.stream().anyMatch(l -> l.trim().isEmpty())) {
      throw new IllegalArgumentException(
          "label file '" + file + "' must hold one non-empty label per line");
    }
    return Collections.unmodifiableList(lines);
  }

  private static Map<String, String> stringMap(Object value, String where) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : Json.object(value, where).entrySet()) {
      if (e.getValue() != null) {
        out.put(e.getKey(), Json.string(e.getValue(), where + "." + e.getKey()));
      }
    }
    return Collections.unmodifiableMap(out);
  }

  private static List<TensorSpec> specs(Map<String, Object> model, String key, String file) {
    List<Object> list = Json.array(Json.field(model, key, "models." + file), file + "." + key);
    List<TensorSpec> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      String where = "preprocessing.json models." + file + "." + key + "[" + i + "]";
      out.add(TensorSpec.fromJson(Json.object(list.get(i), where), where));
    }
    return Collections.unmodifiableList(out);
  }

  private static TensorSpec single(Map<String, List<TensorSpec>> specs, String file, String what) {
    List<TensorSpec> list = specs.get(file);
    if (list == null) {
      throw new IllegalArgumentException("no model file '" + file + "' in preprocessing.json; have "
          + specs.keySet());
    }
    if (list.size() != 1) {
      throw new IllegalArgumentException("model '" + file + "' must have exactly one " + what
          + "; has " + list.size());
    }
    return list.get(0);
  }
}
