package org.fedmultiemo.bridge.physio;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fedmultiemo.bridge.json.Json;
import org.junit.Test;

public class PhysioFeaturesTest {
  private static final PhysioFeatureConfig DEFAULTS = PhysioFeatureConfig.defaults();
  private static final List<String> NAMES = DEFAULTS.featureNames();

  private static float feature(float[] features, String name) {
    return features[NAMES.indexOf(name)];
  }

  private static double[] filled(int n, double value) {
    double[] x = new double[n];
    Arrays.fill(x, value);
    return x;
  }

  private static void assertGroupNaN(float[] features, String group) {
    for (String name : PhysioFeatureConfig.FEATURE_GROUPS.get(group)) {
      assertTrue(name + " should be NaN", Float.isNaN(feature(features, name)));
    }
  }

  @Test
  public void defaultsAndNamesMatchPython() {
    assertEquals(14, NAMES.size());
    assertEquals("hr_mean_bpm", NAMES.get(0));
    assertEquals("resp_amplitude", NAMES.get(13));
    assertEquals(60.0, DEFAULTS.windowS, 0.0);
    assertEquals(5, DEFAULTS.minRrIntervals);
    PhysioFeatureConfig.Builder b = DEFAULTS.toBuilder();
    b.groups = Arrays.asList("temp", "cardiac");
    assertEquals(Arrays.asList("temp_mean", "temp_slope_per_min", "hr_mean_bpm", "hr_std_bpm",
        "hrv_sdnn_ms", "hrv_rmssd_ms", "hrv_lf_hf"), b.build().featureNames());
    assertEquals(240, PhysioFeatures.windowNumSamples(60.0, 4.0));
    assertEquals(930, PhysioFeatures.windowNumSamples(60.0, 15.5));
  }

  @Test
  public void constantHeartRateGivesExactIntervals() {
    Map<String, Signal> signals = new HashMap<>();
    signals.put("hr", new Signal(filled(240, 60.0), 4.0));
    float[] f = PhysioFeatures.extractWindow(signals, DEFAULTS);
    assertEquals(60f, feature(f, "hr_mean_bpm"), 0f);
    assertEquals(0f, feature(f, "hr_std_bpm"), 0f);
    assertEquals(0f, feature(f, "hrv_sdnn_ms"), 0f);
    assertEquals(0f, feature(f, "hrv_rmssd_ms"), 0f);
    assertTrue("no HF power -> NaN", Float.isNaN(feature(f, "hrv_lf_hf")));
    assertGroupNaN(f, "eda");
    assertGroupNaN(f, "temp");
    assertGroupNaN(f, "resp");
  }

  @Test
  public void temperatureRampMeanAndSlopePerMinute() {
    double[] temp = new double[240];
    for (int i = 0; i < temp.length; i++) {
      temp[i] = 33.0 + 0.5 * (i / 240.0); // +0.5 degC per minute at 4 Hz
    }
    Map<String, Signal> signals = new HashMap<>();
    signals.put("temp", new Signal(temp, 4.0));
    float[] f = PhysioFeatures.extractWindow(signals, DEFAULTS);
    assertEquals(33.0 + 0.5 * 119.5 / 240.0, feature(f, "temp_mean"), 1e-5);
    assertEquals(0.5, feature(f, "temp_slope_per_min"), 1e-6);
  }

  @Test
  public void ringBufferUsesTheLastWindowAndGapsAreSkipped() {
    double[] temp = filled(250, 34.0);
    Arrays.fill(temp, 0, 10, 100.0); // older than the window: ignored
    temp[100] = Double.NaN;
    temp[101] = Double.POSITIVE_INFINITY;
    Map<String, Signal> signals = new HashMap<>();
    signals.put("temp", new Signal(temp, 4.0));
    float[] f = PhysioFeatures.extractWindow(signals, DEFAULTS);
    assertEquals(34f, feature(f, "temp_mean"), 0f);
    assertEquals(0f, feature(f, "temp_slope_per_min"), 0f);
  }

  @Test
  public void tooFewValidSamplesOrNullSignalsAreMissing() {
    double[] temp = filled(240, 34.0);
    Arrays.fill(temp, 0, 97, Double.NaN); // 143 valid < 0.6 * 240
    Map<String, Signal> signals = new LinkedHashMap<>();
    signals.put("temp", new Signal(temp, 4.0));
    signals.put("eda", null);
    float[] f = PhysioFeatures.extractWindow(signals, DEFAULTS);
    for (float v : f) {
      assertTrue(Float.isNaN(v));
    }
    temp[96] = 34.0; // 144 valid = 0.6 * 240: enough
    assertEquals(34f, feature(PhysioFeatures.extractWindow(signals, DEFAULTS), "temp_mean"), 0f);
  }

  @Test
  public void flatEdaHasNoResponsesButATonicLevel() {
    Map<String, Signal> signals = new HashMap<>();
    signals.put("eda", new Signal(filled(240, 2.5), 4.0));
    float[] f = PhysioFeatures.extractWindow(signals, DEFAULTS);
    assertArrayEquals(new float[] {2.5f, 0f, 0f, 0f, 0f},
        Arrays.copyOfRange(f, NAMES.indexOf("eda_tonic_mean"), NAMES.indexOf("temp_mean")), 0f);
  }

  @Test
  public void badSignalsAreRejected() {
    Map<String, Signal> signals = new HashMap<>();
    signals.put("skin", new Signal(new double[4], 4.0));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PhysioFeatures.extractWindow(signals, DEFAULTS));
    assertEquals("signals has unknown signal 'skin'; expected names from "
        + "[ecg, bvp, hr, eda, temp, resp]", e.getMessage());
    Map<String, Signal> slowEcg = new HashMap<>();
    slowEcg.put("ecg", new Signal(new double[40], 4.0));
    e = assertThrows(IllegalArgumentException.class,
        () -> PhysioFeatures.extractWindow(slowEcg, DEFAULTS));
    assertEquals("signals['ecg'].rate_hz must be >= 10.0 Hz for beat detection; got 4.0",
        e.getMessage());
    PhysioFeatureConfig.Builder strict = DEFAULTS.toBuilder();
    strict.strict = true;
    Map<String, Signal> shortTemp = new HashMap<>();
    shortTemp.put("temp", new Signal(new double[10], 4.0));
    e = assertThrows(IllegalArgumentException.class,
        () -> PhysioFeatures.extractWindow(shortTemp, strict.build()));
    assertTrue(e.getMessage(), e.getMessage().startsWith(
        "signals['temp'] must hold at least 240 samples"));
    e = assertThrows(IllegalArgumentException.class, () -> new Signal(new double[1], 0.0));
    assertEquals("rateHz must be a finite number > 0; got 0.0", e.getMessage());
  }

  @Test
  public void configValidationAndJson() {
    PhysioFeatureConfig.Builder b = DEFAULTS.toBuilder();
    b.hrMinBpm = 250.0;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
    assertEquals("PhysioFeatureConfig.hr_min_bpm must be < hr_max_bpm; got 250.0 >= 220.0",
        e.getMessage());
    PhysioSpec spec = PhysioSpec.fromJson(Json.object(Json.parse(
        "{\"mode\": \"raw_signals\", \"config\": {\"window_s\": 30, \"groups\": [\"resp\"],"
            + " \"cardiac_source\": \"ecg\"}, \"feature_names\": [\"resp_rate_per_min\","
            + " \"resp_amplitude\"]}"), "f"));
    assertEquals(30.0, spec.config().windowS, 0.0);
    assertEquals("ecg", spec.config().cardiacSource);
    PhysioSpec pre = PhysioSpec.fromJson(Json.object(Json.parse(
        "{\"mode\": \"precomputed\", \"feature_names\": [\"a\", \"b\"], \"source\": \"wesad\"}"),
        "f"));
    assertEquals(null, pre.config());
    e = assertThrows(IllegalArgumentException.class, () -> PhysioFeatureConfig.fromJson(
        Json.object(Json.parse("{\"window\": 30, \"step_s\": 1}"), "f")));
    assertEquals("features.json config has unknown keys [step_s, window]", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> PhysioSpec.fromJson(Json.object(
        Json.parse("{\"mode\": \"raw_signals\", \"config\": {\"groups\": [\"eda\"]},"
            + " \"feature_names\": [\"x\"]}"), "f")));
    assertTrue(e.getMessage(), e.getMessage().startsWith("features.json feature_names must be"));
    e = assertThrows(IllegalArgumentException.class, () -> PhysioSpec.fromJson(Json.object(
        Json.parse("{\"window_s\": 60}"), "f")));
    assertEquals("features.json: unknown keys [window_s], missing keys [feature_names, mode] "
        + "(expected [calibration, config, feature_names, mode, population, source])",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> PhysioFeatureConfig.fromJson(
        Json.object(Json.parse("{\"groups\": [\"eda\", \"eda\"]}"), "f")));
    assertTrue(e.getMessage(), e.getMessage().startsWith("PhysioFeatureConfig.groups must be"));
  }
}
