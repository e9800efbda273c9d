package org.fedmultiemo.bridge.golden;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.fedmultiemo.bridge.assets.BundleVerificationException;
import org.fedmultiemo.bridge.assets.DirectoryAssetSource;
import org.fedmultiemo.bridge.assets.EdgeAssets;
import org.fedmultiemo.bridge.assets.ManifestVerifier;
import org.fedmultiemo.bridge.assets.TensorSpec;
import org.fedmultiemo.bridge.fusion.Exclusion;
import org.fedmultiemo.bridge.fusion.Fusion;
import org.fedmultiemo.bridge.fusion.FusionConfig;
import org.fedmultiemo.bridge.fusion.FusionEngine;
import org.fedmultiemo.bridge.fusion.FusionResult;
import org.fedmultiemo.bridge.fusion.ModelOutputs;
import org.fedmultiemo.bridge.fusion.ModalityReading;
import org.fedmultiemo.bridge.json.Json;
import org.fedmultiemo.bridge.labels.LabelSpace;
import org.fedmultiemo.bridge.labels.LabelSpaces;
import org.fedmultiemo.bridge.physio.CalibrationConfig;
import org.fedmultiemo.bridge.physio.PhysioFeatureConfig;
import org.fedmultiemo.bridge.physio.PhysioFeatures;
import org.fedmultiemo.bridge.physio.ReferenceStats;
import org.fedmultiemo.bridge.physio.SessionCalibration;
import org.fedmultiemo.bridge.physio.Signal;
import org.fedmultiemo.bridge.quant.QuantizedType;
import org.fedmultiemo.bridge.quant.Quantization;
import org.junit.AfterClass;
import org.junit.Assume;
import org.junit.BeforeClass;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * Reproduces every golden vector of an exported asset directory (android_bridge.golden): face
 * scaling + quantization, quantization cases, physiological features, model-output dequantization
 * and label mapping, per-driver calibration sessions (bit for bit), label spaces, every fusion
 * strategy and smoothed fusion sequences. Run by
 * build.sh with {@code --assets DIR}; skipped without {@code -Dfedmultiemo.assets}.
 */
public class GoldenVectorsTest {
  private static final GoldenReport REPORT = new GoldenReport();
  private static Path assetDir;
  private static EdgeAssets assets;
  private static Map<String, Object> golden;
  private static double featureRel;
  private static double probAbs;

  @Rule public TemporaryFolder tmp = new TemporaryFolder();

  @BeforeClass
  public static void load() throws IOException {
    String dir = System.getProperty("fedmultiemo.assets", "");
    Assume.assumeTrue("no golden assets: run build.sh --assets DIR (an export_main output)",
        !dir.isEmpty());
    assetDir = Paths.get(dir);
    assets = EdgeAssets.load(new DirectoryAssetSource(assetDir));
    golden = Json.object(Json.parse(
        ManifestVerifier.readText(assets.source(), "golden.json")), "golden.json");
    assertEquals("fedmultiemo-golden-vectors", golden.get("format"));
    assertEquals(3L, golden.get("version"));
    Map<String, Object> tol = obj(golden.get("tolerances"));
    featureRel = Json.number(tol.get("features_rel"), "features_rel");
    probAbs = Json.number(tol.get("probs_abs"), "probs_abs");
  }

  @AfterClass
  public static void writeReport() throws IOException {
    String path = System.getProperty("fedmultiemo.golden_report", "");
    if (!path.isEmpty()) {
      REPORT.write(Paths.get(path));
    }
  }

  private static Map<String, Object> obj(Object value) {
    return Json.object(value, "golden");
  }

  private static List<Object> arr(Object value) {
    return Json.array(value, "golden");
  }

  /** Number of differing positions (length difference counted too); -1 for a null array. */
  private static int mismatchCount(int[] actual, int[] expected) {
    if (actual == null) {
      return -1;
    }
    int n = Math.abs(actual.length - expected.length);
    for (int i = 0; i < Math.min(actual.length, expected.length); i++) {
      n += actual[i] == expected[i] ? 0 : 1;
    }
    return n;
  }

  /** First index of the maximum (numpy argmax). */
  private static int argmax(double[] x) {
    int best = 0;
    for (int i = 1; i < x.length; i++) {
      if (x[i] > x[best]) {
        best = i;
      }
    }
    return best;
  }

  private static void assertClean(GoldenReport.Section section, String name) {
    assertTrue(name + " mismatches: " + section.mismatches, section.mismatches.isEmpty());
    assertTrue(name + ": no vectors checked", section.vectors > 0);
  }

  // ------------------------------------------------------------------------------ face

  @Test
  public void faceScalingQuantizationAndOutputs() {
    GoldenReport.Section s = REPORT.section("face");
    Map<String, Object> face = obj(golden.get("face"));
    assertEquals(Json.number(face.get("pixel_scale"), "pixel_scale"), assets.face().pixelScale(),
        0.0);
    assertEquals(Json.number(face.get("pixel_offset"), "pixel_offset"),
        assets.face().pixelOffset(), 0.0);
    for (Object c : arr(face.get("cases"))) {
      Map<String, Object> cs = obj(c);
      String name = (String) cs.get("name");
      boolean ok = s.exact(name + " height", Json.integer(cs.get("height"), "height"),
          (long) assets.face().height());
      ok &= s.exact(name + " width", Json.integer(cs.get("width"), "width"),
          (long) assets.face().width());
      int[] pixels = Json.ints(cs.get("pixels"), "pixels");
      for (Map.Entry<String, Object> m : obj(cs.get("models")).entrySet()) {
        String where = name + "/" + m.getKey();
        Map<String, Object> rec = obj(m.getValue());
        EdgeAssets.FaceInput input = assets.prepareFace(pixels, m.getKey());
        if (rec.containsKey("quantized_input")) {
          int[] q = Json.ints(rec.get("quantized_input"), "quantized_input");
          ok &= s.exact(where + " quantized input mismatches", mismatchCount(input.quantized, q),
              0);
        } else {
          double[] x = Json.doubles(rec.get("input"), "input");
          for (int i = 0; i < x.length; i++) {
            ok &= s.value(where + " input[" + i + "]", input.input[i], x[i], 0.0, 0.0);
          }
        }
        ok &= checkModelOutput(s, where, rec, rec, assets.output(m.getKey()),
            assets.face().labelSpace());
      }
      s.vector(ok);
    }
    assertClean(s, "face");
  }

  /**
   * raw output -> dequantize -> clip + renormalise -> argmax -> DRIVER_STATE3 (-> argmax).
   * {@code expected} holds probs, label_index, driver_state, driver_state_index.
   */
  private boolean checkModelOutput(GoldenReport.Section s, String where, Map<String, Object> rec,
      Map<String, Object> expected, TensorSpec out, String space) {
    boolean ok = true;
    float[] output;
    if (out.quantizedType() != null) {
      int[] raw = Json.ints(rec.get("raw_output"), "raw_output");
      output = Quantization.dequantize(raw, out.scale(), out.zeroPoint());
      double[] deq = Json.doubles(rec.get("dequantized"), "dequantized");
      for (int i = 0; i < deq.length; i++) {
        ok &= s.value(where + " dequantized[" + i + "]", output[i], deq[i], 0.0, 0.0);
      }
    } else {
      double[] raw = Json.doubles(rec.get("raw_output"), "raw_output");
      output = new float[raw.length];
      for (int i = 0; i < raw.length; i++) {
        output[i] = (float) raw[i];
      }
    }
    double[] actual = ModelOutputs.normalise(output);
    double[] probs = Json.doubles(expected.get("probs"), "probs");
    for (int i = 0; i < probs.length; i++) {
      ok &= s.value(where + " probs[" + i + "]", actual[i], probs[i], 0.0, probAbs);
    }
    ok &= s.exact(where + " label_index", argmax(actual),
        (int) Json.integer(expected.get("label_index"), "label_index"));
    double[] driver = LabelSpaces.toDriverState(actual, space);
    double[] state = Json.doubles(expected.get("driver_state"), "driver_state");
    for (int i = 0; i < driver.length; i++) {
      ok &= s.value(where + " driver_state[" + i + "]", driver[i], state[i], 0.0, probAbs);
    }
    ok &= s.exact(where + " driver_state_index", argmax(driver),
        (int) Json.integer(expected.get("driver_state_index"), "driver_state_index"));
    return ok;
  }

  // ------------------------------------------------------------------------------ quantization

  @Test
  public void quantizationCases() {
    GoldenReport.Section s = REPORT.section("quantization");
    Map<String, Object> q = obj(golden.get("quantization"));
    for (Object c : arr(q.get("quantize"))) {
      Map<String, Object> cs = obj(c);
      double[] x = Json.doubles(cs.get("x"), "x");
      float[] x32 = new float[x.length];
      for (int i = 0; i < x.length; i++) {
        x32[i] = (float) x[i];
      }
      int[] got = Quantization.quantize(x32, Json.number(cs.get("scale"), "scale"),
          Json.integer(cs.get("zero_point"), "zp"),
          QuantizedType.fromName((String) cs.get("dtype")));
      int[] expected = Json.ints(cs.get("q"), "q");
      boolean ok = true;
      for (int i = 0; i < got.length; i++) {
        ok &= s.exact(cs.get("name") + " q[" + i + "] (x=" + x[i] + ")", got[i], expected[i]);
      }
      s.vector(ok);
    }
    for (Object c : arr(q.get("dequantize"))) {
      Map<String, Object> cs = obj(c);
      float[] got = Quantization.dequantize(Json.ints(cs.get("q"), "q"),
          Json.number(cs.get("scale"), "scale"), Json.integer(cs.get("zero_point"), "zp"));
      double[] expected = Json.doubles(cs.get("x"), "x");
      boolean ok = true;
      for (int i = 0; i < got.length; i++) {
        ok &= s.value("dequantize[" + i + "]", got[i], expected[i], 0.0, 0.0);
      }
      s.vector(ok);
    }
    assertClean(s, "quantization");
  }

  // ------------------------------------------------------------------------------ physio

  @Test
  public void physioFeatures() {
    GoldenReport.Section s = REPORT.section("physio_features");
    for (Object c : arr(obj(golden.get("physio")).get("cases"))) {
      Map<String, Object> cs = obj(c);
      String name = (String) cs.get("name");
      PhysioFeatureConfig config = PhysioFeatureConfig.fromJson(obj(cs.get("config")));
      boolean ok = s.exact(name + " feature_names", config.featureNames(),
          Json.strings(cs.get("feature_names"), "feature_names"));
      Map<String, Signal> signals = new LinkedHashMap<>();
      for (Map.Entry<String, Object> e : obj(cs.get("signals")).entrySet()) {
        if (e.getValue() == null) {
          signals.put(e.getKey(), null);
          continue;
        }
        Map<String, Object> sig = obj(e.getValue());
        signals.put(e.getKey(), new Signal(Json.doubles(sig.get("values"), "values"),
            Json.number(sig.get("rate_hz"), "rate_hz")));
      }
      float[] features = PhysioFeatures.extractWindow(signals, config);
      double[] expected = Json.doubles(cs.get("features"), "features");
      ok &= s.exact(name + " length", features.length, expected.length);
      for (int i = 0; i < Math.min(features.length, expected.length); i++) {
        ok &= s.value(name + " " + config.featureNames().get(i), features[i], expected[i],
            featureRel, 1e-12);
      }
      s.vector(ok);
    }
    assertClean(s, "physio_features");
  }

  @Test
  public void physioModelOutputs() {
    GoldenReport.Section s = REPORT.section("physio_model");
    Map<String, Object> models = obj(golden.get("models"));
    Assume.assumeTrue("the bundle has no physio model", models.containsKey("physio"));
    Map<String, Object> physio = obj(models.get("physio"));
    String file = (String) physio.get("model");
    String space = (String) physio.get("label_space");
    assertEquals(space, assets.fusionConfig().modalityLabelSpaces().get("physio"));
    assertEquals(assets.physioSpec().featureNames().size(), assets.input(file).shape()[1]);
    int i = 0;
    for (Object c : arr(physio.get("cases"))) {
      Map<String, Object> rec = obj(c);
      String where = "physio[" + i++ + "]";
      double[] row = Json.doubles(rec.get("features"), "features");
      float[] features = new float[row.length];
      for (int k = 0; k < row.length; k++) {
        features[k] = (float) row[k];
      }
      double quality = ModelOutputs.finiteFraction(features);
      Object prediction = rec.get("prediction");
      if (prediction == null) {
        s.vector(s.exact(where + " no prediction (no finite feature)", quality, 0.0));
        continue;
      }
      Map<String, Object> expected = obj(prediction);
      boolean ok = s.value(where + " quality", quality,
          Json.number(expected.get("quality"), "quality"), 0.0, 0.0);
      s.vector(ok & checkModelOutput(s, where, rec, expected, assets.output(file), space));
    }
    assertClean(s, "physio_model");
  }

  // ------------------------------------------------------------------------------ calibration

  /** A float32 output against its recorded value, by bits (floatToIntBits: NaN == NaN). */
  private static boolean sameFloat(GoldenReport.Section s, String where, float actual,
      double expected) {
    float e = (float) expected;
    boolean same = Float.floatToIntBits(actual) == Float.floatToIntBits(e)
        && (Double.isNaN(expected) || (double) e == expected);
    s.values++;
    if (same) {
      s.bitExact++;
    } else {
      s.mismatch(where + ": got " + actual + " (bits 0x" + Integer.toHexString(
          Float.floatToIntBits(actual)) + "), expected " + expected + " (bits 0x"
          + Integer.toHexString(Float.floatToIntBits(e)) + ")");
    }
    return same;
  }

  private static boolean sameDoubles(GoldenReport.Section s, String where, double[] actual,
      double[] expected) {
    boolean ok = s.exact(where + " length", actual.length, expected.length);
    for (int i = 0; ok && i < actual.length; i++) {
      ok &= s.exact(where + "[" + i + "]", Double.doubleToLongBits(actual[i]),
          Double.doubleToLongBits(expected[i]));
    }
    return ok;
  }

  @Test
  public void calibrationSessions() {
    GoldenReport.Section s = REPORT.section("calibration");
    List<String> names = assets.physioSpec().featureNames();
    boolean sawBundle = false;
    for (Object c : arr(obj(golden.get("calibration")).get("sessions"))) {
      Map<String, Object> cs = obj(c);
      String name = (String) cs.get("name");
      CalibrationConfig config = CalibrationConfig.fromJson(obj(cs.get("config")));
      ReferenceStats prior = ReferenceStats.fromJson(obj(cs.get("prior")));
      boolean ok = s.exact(name + " feature_names", prior.featureNames(), names);
      if ("bundle".equals(cs.get("source"))) {
        // The bundle's own calibration, parsed from features.json by EdgeAssets.
        sawBundle = true;
        ok &= s.exact(name + " config = features.json calibration", config,
            assets.physioSpec().calibration());
        if ("population".equals(config.prior())) {
          ok &= s.exact(name + " prior = features.json population", prior,
              assets.physioSpec().population());
        }
      }
      SessionCalibration session = new SessionCalibration(config, prior);
      boolean float32 = "float32".equals(cs.get("input_dtype"));
      List<Object> inputs = arr(cs.get("inputs"));
      List<Object> outputs = arr(cs.get("outputs"));
      List<Object> frozen = arr(cs.get("frozen"));
      ok &= s.exact(name + " windows", inputs.size(), outputs.size());
      for (int t = 0; t < inputs.size(); t++) {
        double[] x = Json.doubles(inputs.get(t), "inputs");
        float[] got;
        if (float32) {
          float[] x32 = new float[x.length];
          for (int i = 0; i < x.length; i++) {
            x32[i] = (float) x[i];
          }
          got = session.apply(x32);
        } else {
          got = session.apply(x);
        }
        double[] expected = Json.doubles(outputs.get(t), "outputs");
        ok &= s.exact(name + "[" + t + "] length", got.length, expected.length);
        for (int i = 0; i < Math.min(got.length, expected.length); i++) {
          ok &= sameFloat(s, name + "[" + t + "] " + names.get(i), got[i], expected[i]);
        }
        ok &= s.exact(name + "[" + t + "] frozen", session.isFrozen(), frozen.get(t));
      }
      ok &= s.exact(name + " windows_seen", session.windowsSeen(), inputs.size());
      ReferenceStats stats = session.sessionStats();
      ReferenceStats want = ReferenceStats.fromJson(obj(cs.get("session_stats")));
      ok &= sameDoubles(s, name + " session count", stats.count(), want.count());
      ok &= sameDoubles(s, name + " session mean", stats.mean(), want.mean());
      ok &= sameDoubles(s, name + " session m2", stats.m2(), want.m2());
      // The end-of-session profile update (float64: pins the merge's operation order).
      ReferenceStats merged = prior.merge(stats);
      ReferenceStats wantMerged = ReferenceStats.fromJson(obj(cs.get("merged")));
      ok &= sameDoubles(s, name + " merged count", merged.count(), wantMerged.count());
      ok &= sameDoubles(s, name + " merged mean", merged.mean(), wantMerged.mean());
      ok &= sameDoubles(s, name + " merged m2", merged.m2(), wantMerged.m2());
      s.vector(ok);
    }
    assertEquals("a bundle session exactly when features.json has a calibration",
        assets.physioSpec().calibration() != null, sawBundle);
    assertClean(s, "calibration");
  }

  // ------------------------------------------------------------------------------ labels

  @Test
  public void labelSpacesAndMappings() {
    GoldenReport.Section s = REPORT.section("labels");
    Map<String, Object> labels = obj(golden.get("labels"));
    for (Map.Entry<String, Object> e : obj(labels.get("spaces")).entrySet()) {
      LabelSpace space = LabelSpaces.get(e.getKey());
      s.vector(s.exact("space " + e.getKey(), space.labels(),
          Json.strings(e.getValue(), "labels")));
    }
    assertEquals(obj(labels.get("spaces")).keySet(),
        new java.util.TreeSet<>(LabelSpaces.all().keySet()));
    for (Object m : arr(labels.get("mappings"))) {
      Map<String, Object> map = obj(m);
      String source = (String) map.get("source");
      String target = (String) map.get("target");
      String where = source + "->" + target;
      if (map.get("matrix") == null) {
        s.vector(s.exact(where + " has mapping", LabelSpaces.hasMapping(source, target), false));
        assertThrows(IllegalArgumentException.class,
            () -> LabelSpaces.mappingMatrix(source, target));
        continue;
      }
      double[][] got = LabelSpaces.mappingMatrix(source, target);
      List<Object> rows = arr(map.get("matrix"));
      boolean ok = s.exact(where + " rows", got.length, rows.size());
      for (int r = 0; r < rows.size() && r < got.length; r++) {
        double[] row = Json.doubles(rows.get(r), "row");
        for (int t = 0; t < row.length; t++) {
          ok &= s.value(where + " [" + r + "][" + t + "]", got[r][t], row[t], 0.0, 0.0);
        }
      }
      s.vector(ok);
    }
    for (Object c : arr(labels.get("to_driver_state"))) {
      Map<String, Object> cs = obj(c);
      double[] got = LabelSpaces.toDriverState(Json.doubles(cs.get("probs"), "probs"),
          (String) cs.get("source"));
      double[] expected = Json.doubles(cs.get("expected"), "expected");
      boolean ok = true;
      for (int k = 0; k < got.length; k++) {
        ok &= s.value(cs.get("source") + " to_driver_state[" + k + "]", got[k], expected[k], 0.0,
            probAbs);
      }
      s.vector(ok);
    }
    assertClean(s, "labels");
  }

  // ------------------------------------------------------------------------------ fusion

  private static List<ModalityReading> readings(Object value) {
    List<ModalityReading> out = new ArrayList<>();
    for (Object r : arr(value)) {
      Map<String, Object> reading = obj(r);
      Object probs = reading.get("probs");
      out.add(new ModalityReading((String) reading.get("modality"),
          probs == null ? null : Json.doubles(probs, "probs"),
          Json.number(reading.get("timestamp_s"), "timestamp_s"),
          Json.number(reading.get("quality"), "quality")));
    }
    return out;
  }

  private boolean checkResult(GoldenReport.Section s, String where, FusionResult got,
      Map<String, Object> expected) {
    boolean ok = s.exact(where + " label", got.label(), expected.get("label"));
    ok &= s.exact(where + " label_index", (long) got.labelIndex(), expected.get("label_index"));
    ok &= s.exact(where + " smoothed", got.smoothed(), expected.get("smoothed"));
    ok &= s.exact(where + " used", got.used(), Json.strings(expected.get("used"), "used"));
    Object probs = expected.get("probs");
    if (probs == null) {
      ok &= s.exact(where + " probs", got.probs() == null, true);
    } else {
      double[] p = Json.doubles(probs, "probs");
      double[] g = got.probs();
      for (int k = 0; k < p.length; k++) {
        ok &= s.value(where + " probs[" + k + "]", g[k], p[k], 0.0, probAbs);
      }
    }
    double[] weights = Json.doubles(expected.get("weights"), "weights");
    ok &= s.exact(where + " weights length", got.weights().length, weights.length);
    for (int m = 0; m < Math.min(weights.length, got.weights().length); m++) {
      ok &= s.value(where + " weights[" + m + "]", got.weights()[m], weights[m], 0.0, probAbs);
    }
    List<String> gotExcluded = new ArrayList<>();
    for (Exclusion e : got.excluded()) {
      gotExcluded.add(e.modality() + ":" + e.kind().jsonName());
    }
    List<String> expectedExcluded = new ArrayList<>();
    for (Object e : arr(expected.get("excluded"))) {
      Map<String, Object> ex = obj(e);
      expectedExcluded.add(ex.get("modality") + ":" + ex.get("kind"));
    }
    ok &= s.exact(where + " excluded", gotExcluded, expectedExcluded);
    return ok;
  }

  @Test
  public void fusionEveryStrategy() {
    GoldenReport.Section s = REPORT.section("fusion");
    for (Object c : arr(obj(golden.get("fusion")).get("cases"))) {
      Map<String, Object> cs = obj(c);
      FusionConfig config = FusionConfig.fromJson((String) cs.get("config_json"));
      FusionResult got = Fusion.fuse(readings(cs.get("readings")),
          Json.number(cs.get("now_s"), "now_s"), config);
      s.vector(checkResult(s, (String) cs.get("name"), got, obj(cs.get("expected"))));
    }
    assertClean(s, "fusion");
  }

  @Test
  public void fusionEngineSequences() {
    GoldenReport.Section s = REPORT.section("fusion_sequences");
    for (Object q : arr(obj(golden.get("fusion")).get("sequences"))) {
      Map<String, Object> seq = obj(q);
      FusionEngine engine = new FusionEngine(FusionConfig.fromJson((String) seq.get("config_json")));
      int i = 0;
      for (Object st : arr(seq.get("steps"))) {
        Map<String, Object> step = obj(st);
        FusionResult got = engine.update(readings(step.get("readings")),
            Json.number(step.get("now_s"), "now_s"));
        String where = seq.get("name") + "[" + i++ + "]";
        boolean ok = checkResult(s, where, got, obj(step.get("expected")));
        for (Map.Entry<String, Object> e : obj(step.get("pooled")).entrySet()) {
          double[] gotPooled = engine.pooledProbs(e.getKey());
          ok &= s.exact(where + " pooled " + e.getKey() + " present", gotPooled != null,
              e.getValue() != null);
          if (gotPooled != null && e.getValue() != null) {
            double[] p = Json.doubles(e.getValue(), "pooled");
            for (int k = 0; k < p.length; k++) {
              ok &= s.value(where + " pooled " + e.getKey() + "[" + k + "]", gotPooled[k], p[k],
                  0.0, probAbs);
            }
          }
        }
        s.vector(ok);
      }
    }
    assertClean(s, "fusion_sequences");
  }

  @Test
  public void bundleFusionConfigIsTheExportedOne() {
    FusionConfig config = assets.fusionConfig();
    assertEquals(assets.labels().get("fused"), LabelSpaces.DRIVER_STATE3.labels());
    assertTrue(config.modalities().contains("face"));
    assertEquals(assets.face().labelSpace(), config.modalityLabelSpaces().get("face"));
  }

  // ------------------------------------------------------------------------------ manifest

  private Path copyOfAssets(String name) throws IOException {
    Path copy = tmp.newFolder(name).toPath();
    try (Stream<Path> files = Files.list(assetDir)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Files.copy(p, copy.resolve(p.getFileName()));
      }
    }
    return copy;
  }

  @Test
  public void tamperedCopyIsRejectedNamingTheFile() throws IOException {
    Path copy = copyOfAssets("assets");
    String model = assets.models().get(assets.faceModelRoles().get(0));
    Path path = copy.resolve(model);
    byte[] data = Files.readAllBytes(path);
    data[data.length / 2] ^= (byte) 0xFF;
    Files.write(path, data);
    BundleVerificationException e = assertThrows(BundleVerificationException.class,
        () -> EdgeAssets.load(new DirectoryAssetSource(copy)));
    assertTrue(e.getMessage(), e.getMessage().contains(
        "file '" + model + "' was altered: sha256 does not match the manifest"));
    assertEquals(java.util.Collections.singletonList(model), e.files());
  }

  /**
   * Schema-1 assets (as the previous exporter wrote them) whose preprocessing.json asks for a face
   * blur, with a manifest that matches them: EdgeAssets.load refuses them in one line.
   */
  @Test
  public void oldAssetsAskingForAFaceBlurAreRefused() throws IOException {
    Path copy = copyOfAssets("old_assets");
    String file = Json.string(obj(assets.manifest().get("contents")).get("preprocessing"),
        "contents.preprocessing");
    DirectoryAssetSource source = new DirectoryAssetSource(copy);
    ManifestVerifier.FileDigest before = ManifestVerifier.digest(source, file);
    String text = new String(Files.readAllBytes(copy.resolve(file)), StandardCharsets.UTF_8);
    String old = text.replaceFirst("\"face\": \\{", "\"face\": {\"eval_blur_sigma\": 3.0, ");
    assertTrue("the face object was found", !old.equals(text));
    Files.write(copy.resolve(file), old.getBytes(StandardCharsets.UTF_8));
    ManifestVerifier.FileDigest after = ManifestVerifier.digest(source, file);
    Path manifestPath = copy.resolve(ManifestVerifier.MANIFEST_NAME);
    String manifest = new String(Files.readAllBytes(manifestPath), StandardCharsets.UTF_8);
    String entry = "\"sha256\": \"" + before.sha256 + "\",\\s*\"size_bytes\": " + before.sizeBytes;
    String edited = manifest.replaceFirst("\"schema_version\": 2", "\"schema_version\": 1")
        .replaceFirst(entry, "\"sha256\": \"" + after.sha256 + "\", \"size_bytes\": "
            + after.sizeBytes);
    assertTrue("the manifest entry was updated", edited.contains(after.sha256));
    Files.write(manifestPath, edited.getBytes(StandardCharsets.UTF_8));
    assertEquals(1L, ManifestVerifier.verify(source).get("schema_version"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> EdgeAssets.load(source));
    assertEquals("bundle '" + copy + "': preprocessing.json asks for a face blur (sigma 3.0),"
        + " which this version no longer applies (the FER2013 training images are sharp now);"
        + " re-export the bundle with python -m converters.export_main, then the assets with"
        + " python -m android_bridge.export_main", e.getMessage());
  }
}
