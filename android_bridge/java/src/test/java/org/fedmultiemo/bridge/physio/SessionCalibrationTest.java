package org.fedmultiemo.bridge.physio;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fedmultiemo.bridge.json.Json;
import org.junit.Test;

/**
 * CalibrationConfig, ReferenceStats, SessionCalibration and PhysioSpec's calibration keys, without
 * assets (the bit-for-bit golden sessions are in GoldenVectorsTest).
 */
public class SessionCalibrationTest {
  private static final List<String> NAMES = Arrays.asList("a", "b", "c");

  private static ReferenceStats prior() {
    return new ReferenceStats(NAMES, new double[] {50, 50, 50}, new double[] {1, 2, 3},
        new double[] {200, 50, 50});
  }

  private static double[][] session(long seed, int n) {
    Random rng = new Random(seed);
    double[][] x = new double[n][3];
    for (int t = 0; t < n; t++) {
      for (int i = 0; i < 3; i++) {
        x[t][i] = i == 2 ? Double.NaN : 5.0 + 2.0 * rng.nextGaussian();
      }
    }
    x[3][1] = Double.NaN;
    x[7][0] = Double.POSITIVE_INFINITY;
    return x;
  }

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  private static Map<String, Object> json(String text) {
    return Json.object(Json.parse(text), "test");
  }

  @Test
  public void badConfigsNameTheField() {
    assertEquals("calibration method must be one of ['none', 'center', 'zscore']; got 'rank'",
        message(() -> new CalibrationConfig("rank", 0, false, "population", 10)));
    assertEquals("calibration prior must be one of ['population', 'driver_profile']; got 'fleet'",
        message(() -> new CalibrationConfig("zscore", 0, false, "fleet", 10)));
    assertEquals("calibration baseline_windows must be an int >= 0; got -1",
        message(() -> new CalibrationConfig("zscore", -1, false, "population", 10)));
    assertEquals("calibration prior_weight must be a finite number > 0; got 0.0",
        message(() -> new CalibrationConfig("zscore", 0, false, "population", 0.0)));
    assertEquals("calibration prior_weight must be a finite number > 0; got nan",
        message(() -> new CalibrationConfig("zscore", 0, false, "population", Double.NaN)));
    String keys = "['baseline_windows', 'method', 'prior', 'prior_weight', 'running']";
    assertEquals("calibration config must be an object with keys " + keys + "; got ['method']",
        message(() -> CalibrationConfig.fromJson(json("{\"method\": \"zscore\"}"))));
    String base = "\"method\": \"zscore\", \"prior\": \"population\", \"prior_weight\": 3";
    assertEquals("calibration config must be an object with keys " + keys + "; got "
        + "['baseline_windows', 'extra', 'method', 'prior', 'prior_weight', 'running']",
        message(() -> CalibrationConfig.fromJson(json("{" + base
            + ", \"baseline_windows\": 2, \"running\": false, \"extra\": 1}"))));
    assertEquals("calibration baseline_windows must be an int >= 0; got 2.5",
        message(() -> CalibrationConfig.fromJson(json("{" + base
            + ", \"baseline_windows\": 2.5, \"running\": false}"))));
    assertEquals("calibration running must be a bool; got 1",
        message(() -> CalibrationConfig.fromJson(json("{" + base
            + ", \"baseline_windows\": 2, \"running\": 1}"))));
    CalibrationConfig ok = CalibrationConfig.fromJson(json("{" + base
        + ", \"baseline_windows\": 2, \"running\": true}"));
    assertEquals(new CalibrationConfig("zscore", 2, true, "population", 3.0), ok);
    assertEquals("config must be a CalibrationConfig with method in ['center', 'zscore']; got "
        + "CalibrationConfig(method='none', baseline_windows=0, running=False, "
        + "prior='population', prior_weight=10.0)",
        message(() -> new SessionCalibration(CalibrationConfig.none(), prior())));
  }

  @Test
  public void badStatisticsAndWindowsAreRejected() {
    assertTrue(message(() -> new ReferenceStats(NAMES, new double[] {1, 1, 1},
        new double[] {0, Double.NaN, 0}, new double[3]))
        .startsWith("ReferenceStats.mean must be finite float[3]"));
    assertTrue(message(() -> new ReferenceStats(NAMES, new double[] {1, -1, 1}, new double[3],
        new double[3])).startsWith("ReferenceStats.count and m2 must be >= 0"));
    assertEquals("other must be ReferenceStats over ['a', 'b', 'c']; got ['a']",
        message(() -> prior().merge(ReferenceStats.empty(Arrays.asList("a")))));
    assertTrue(message(() -> ReferenceStats.fromJson(json("{\"mean\": []}")))
        .startsWith("reference statistics must be an object with keys"));
    SessionCalibration s =
        new SessionCalibration(new CalibrationConfig("zscore", 3, false, "population", 10), prior());
    assertEquals("features must be float[3] (one window); got shape [2]",
        message(() -> s.apply(new double[2])));
    assertEquals(0, s.windowsSeen());
  }

  @Test
  public void jsonRoundTripAndExactMerge() {
    ReferenceStats p = prior();
    Map<String, Object> data = json("{\"feature_names\": [\"a\", \"b\", \"c\"], \"count\": [50, 50,"
        + " 50.0], \"mean\": [1.0, 2, 3], \"m2\": [200, 50, 50]}");
    assertEquals(p, ReferenceStats.fromJson(data));
    ReferenceStats empty = ReferenceStats.empty(NAMES);
    assertEquals(p, empty.merge(p));  // merging into nothing is exact
    assertEquals(p, p.merge(empty));
    ReferenceStats twice = p.merge(p);
    assertArrayEquals(new double[] {100, 100, 100}, twice.count(), 0.0);
    assertArrayEquals(new double[] {1, 2, 3}, twice.mean(), 0.0);
    assertArrayEquals(new double[] {400, 100, 100}, twice.m2(), 0.0);
  }

  @Test
  public void zscoreOfOneWindowByHand() {
    // prior count 4, mean 1, m2 8 (variance 2) at weight 2 -> 2 pseudo-windows, m2 4.
    ReferenceStats p = new ReferenceStats(Arrays.asList("x", "never"), new double[] {4, 0},
        new double[] {1, 0}, new double[] {8, 0});
    SessionCalibration s = new SessionCalibration(
        new CalibrationConfig("zscore", 1, false, "driver_profile", 2.0), p);
    float[] out = s.apply(new double[] {3.0, Double.NaN});
    // reference: n 3, mean 1 + 2/3, m2 4 + 4 * 2/3 -> (3 - 5/3) / sqrt(20/9)
    assertEquals((3.0 - 5.0 / 3.0) / Math.sqrt(20.0 / 9.0), out[0], 1e-6);
    assertTrue(Float.isNaN(out[1]));  // never seen anywhere
    assertTrue(s.isFrozen());
    float[] again = s.apply(new float[] {3.0f, 7.0f});
    assertEquals(out[0], again[0], 0.0);  // frozen: same input, same output
    assertTrue(Float.isNaN(again[1]));  // a value after the baseline never becomes reference
    assertArrayEquals(new double[] {1, 0}, s.sessionStats().count(), 0.0);
    assertEquals(2, s.windowsSeen());
  }

  @Test
  public void frozenStopsAndRunningKeepsUpdating() {
    double[][] x = session(0, 40);
    SessionCalibration frozen =
        new SessionCalibration(new CalibrationConfig("center", 5, false, "population", 10), prior());
    SessionCalibration running =
        new SessionCalibration(new CalibrationConfig("center", 5, true, "population", 10), prior());
    for (int t = 0; t < x.length; t++) {
      frozen.apply(x[t]);
      running.apply(x[t]);
      assertEquals(t + 1 >= 5, frozen.isFrozen());
      assertFalse(running.isFrozen());
    }
    // x[3][1] is NaN, x[7][0] inf: not counted; feature c is never finite.
    assertArrayEquals(new double[] {5, 4, 0}, frozen.sessionStats().count(), 0.0);
    assertArrayEquals(new double[] {39, 39, 0}, running.sessionStats().count(), 0.0);
    float[] probe = {1f, 1f, 1f};
    float[] a = frozen.apply(probe);
    assertArrayEquals(a, frozen.apply(probe), 0.0f);  // frozen: same input, same output
    assertFalse(Float.isNaN(a[2]));  // the prior knows feature c
    float[] r = running.apply(probe);
    assertNotEquals(Float.floatToIntBits(r[0]), Float.floatToIntBits(running.apply(probe)[0]));
    assertArrayEquals(new double[] {41, 41, 2}, running.sessionStats().count(), 0.0);
  }

  @Test
  public void causalChangingALaterWindowNeverChangesAnEarlierOutput() {
    CalibrationConfig[] configs = {new CalibrationConfig("zscore", 10, false, "population", 10),
        new CalibrationConfig("zscore", 0, true, "population", 10),
        new CalibrationConfig("center", 0, false, "population", 10)};
    for (CalibrationConfig config : configs) {
      double[][] x = session(1, 30);
      float[][] base = run(config, x);
      for (int k : new int[] {0, 4, 12, 29}) {
        double[][] changed = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
          changed[t] = x[t].clone();
        }
        changed[k][0] += 100.0;
        changed[k][1] = Double.NaN;
        float[][] out = run(config, changed);
        for (int t = 0; t < k; t++) {
          for (int i = 0; i < 3; i++) {
            assertEquals(config + " t=" + t + " k=" + k, Float.floatToIntBits(base[t][i]),
                Float.floatToIntBits(out[t][i]));
          }
        }
        assertNotEquals(Float.floatToIntBits(base[k][0]), Float.floatToIntBits(out[k][0]));
      }
    }
  }

  private static float[][] run(CalibrationConfig config, double[][] x) {
    SessionCalibration s = new SessionCalibration(config, prior());
    float[][] out = new float[x.length][];
    for (int t = 0; t < x.length; t++) {
      out[t] = s.apply(x[t]);
    }
    return out;
  }

  @Test
  public void physioSpecCarriesCalibrationAndPopulation() {
    String names = "\"feature_names\": [\"a\", \"b\", \"c\"]";
    String calibration = "\"calibration\": {\"method\": \"center\", \"baseline_windows\": 3, "
        + "\"running\": false, \"prior\": \"population\", \"prior_weight\": 10.0}";
    String population = "\"population\": {" + names + ", \"count\": [50, 50, 50], "
        + "\"mean\": [1, 2, 3], \"m2\": [200, 50, 50]}";
    PhysioSpec spec = PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names + ", "
        + calibration + ", " + population + "}"));
    assertEquals(new CalibrationConfig("center", 3, false, "population", 10), spec.calibration());
    assertEquals(prior(), spec.population());
    SessionCalibration s = SessionCalibration.forSpec(spec, null);
    assertEquals(prior(), s.prior());
    assertEquals(3, s.config().baselineWindows());
    PhysioSpec plain = PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names + "}"));
    assertNull(plain.calibration());
    assertNull(plain.population());
    assertNull(SessionCalibration.forSpec(plain, null));
    assertEquals("driver_profile was given but the bundle's physio model takes uncalibrated "
        + "features (features.json has no calibration)",
        message(() -> SessionCalibration.forSpec(plain, prior())));
    PhysioSpec noPopulation = PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names
        + ", " + calibration + "}"));
    assertEquals("features.json has a calibration with prior 'population' but no population "
        + "statistics: re-export the bundle",
        message(() -> SessionCalibration.forSpec(noPopulation, null)));
    assertEquals(prior(), SessionCalibration.forSpec(noPopulation, prior()).prior());
    PhysioSpec ownProfile = PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names
        + ", " + calibration.replace("\"population\"", "\"driver_profile\"") + "}"));
    assertTrue(message(() -> SessionCalibration.forSpec(ownProfile, null))
        .endsWith("(calibration prior 'driver_profile'): pass driver_profile"));
    assertEquals("driver_profile must be ReferenceStats over the features.json feature_names "
        + "['a', 'b', 'c']; got ['a']", message(() -> SessionCalibration.forSpec(ownProfile,
            ReferenceStats.empty(Arrays.asList("a")))));
    assertEquals("features.json population must be reference statistics over feature_names "
        + "['x', 'y', 'z']; got ['a', 'b', 'c']", message(() -> PhysioSpec.fromJson(json(
            "{\"mode\": \"precomputed\", \"feature_names\": [\"x\", \"y\", \"z\"], "
            + population + "}"))));
    assertTrue(message(() -> PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names
        + ", " + calibration.replace("\"center\"", "\"none\"") + "}")))
        .startsWith("features.json calibration must be a CalibrationConfig with a method other "
            + "than 'none' (or absent); got CalibrationConfig(method='none'"));
    assertTrue(message(() -> PhysioSpec.fromJson(json("{\"mode\": \"precomputed\", " + names
        + ", \"calibrate\": 1}"))).startsWith("features.json: unknown keys [calibrate]"));
  }
}
