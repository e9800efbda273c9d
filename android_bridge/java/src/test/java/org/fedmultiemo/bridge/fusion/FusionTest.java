package org.fedmultiemo.bridge.fusion;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.Test;

public class FusionTest {
  private static final FusionConfig DEFAULTS = FusionConfig.defaults();

  private static FusionConfig config(String strategy, LearnedWeights weights, double halfLife) {
    Map<String, String> spaces = new TreeMap<>();
    spaces.put("face", "fer7");
    spaces.put("physio", "wesad3");
    return new FusionConfig(strategy, "max_prob", 2.0, 0.5, 1e-6, halfLife, 5.0, spaces, weights);
  }

  private static ModalityReading face(double... p) {
    return new ModalityReading("face", p, 9.8, 0.9);
  }

  private static ModalityReading faceAt(double timestampS, double... p) {
    return new ModalityReading("face", p, timestampS, 1.0);
  }

  private static ModalityReading physio(double... p) {
    return new ModalityReading("physio", p, 9.5, 1.0);
  }

  @Test
  public void confidenceWeightedAveragesByMaxProbability() {
    FusionResult r = Fusion.fuse(Arrays.asList(face(0.2, 0.1, 0.7), physio(0.5, 0.3, 0.2)), 10.0,
        DEFAULTS);
    // weights 0.7 and 0.5 (normalised by 1.2)
    assertArrayEquals(new double[] {0.39 / 1.2, 0.22 / 1.2, 0.59 / 1.2}, r.probs(), 1e-15);
    assertArrayEquals(new double[] {0.7 / 1.2, 0.5 / 1.2}, r.weights(), 1e-15);
    assertEquals("negative", r.label());
    assertEquals(Arrays.asList("face", "physio"), r.used());
    assertTrue(r.excluded().isEmpty());
  }

  @Test
  public void staleMissingAndLowQualityReadingsAreExcluded() {
    List<ModalityReading> readings = Arrays.asList(
        new ModalityReading("face", new double[] {0.2, 0.1, 0.7}, 7.0, 1.0),
        new ModalityReading("physio", new double[] {0.5, 0.3, 0.2}, 9.9, 0.4));
    FusionResult r = Fusion.fuse(readings, 10.0, DEFAULTS);
    assertTrue(r.isUnknown());
    assertEquals(-1, r.labelIndex());
    assertNull(r.probs());
    assertEquals(ExclusionKind.STALE, r.excluded().get(0).kind());
    assertEquals(ExclusionKind.LOW_QUALITY, r.excluded().get(1).kind());
    r = Fusion.fuse(Arrays.asList(face(Double.NaN, 0.5, 0.5)), 10.0, DEFAULTS);
    assertEquals(ExclusionKind.NAN_PROBS, r.excluded().get(0).kind());
    assertEquals(ExclusionKind.NO_READING, r.excluded().get(1).kind());
    assertEquals("unknown", r.label());
    r = Fusion.fuse(Arrays.asList(face((double[]) null), physio(0.1, 0.1, 0.8)), 10.0, DEFAULTS);
    assertEquals(ExclusionKind.MISSING, r.excluded().get(0).kind());
    assertEquals("negative", r.label());
    r = Fusion.fuse(Arrays.asList(new ModalityReading("face", new double[] {1, 0, 0}, 10.5)),
        10.0, DEFAULTS);
    assertEquals(ExclusionKind.FUTURE_TIMESTAMP, r.excluded().get(0).kind());
  }

  @Test
  public void majorityVoteBreaksTiesBySummedProbability() {
    FusionResult r = Fusion.fuse(Arrays.asList(face(0.1, 0.3, 0.6), physio(0.1, 0.5, 0.4)), 10.0,
        config("majority_vote", null, 0.0));
    assertArrayEquals(new double[] {0.0, 0.5, 0.5}, r.probs(), 0.0);
    assertEquals("negative", r.label()); // 1.0 summed for negative vs 0.8 for positive
    r = Fusion.fuse(Arrays.asList(face(0.4, 0.4, 0.2)), 10.0, config("product_of_experts", null,
        0.0));
    assertEquals("neutral", r.label()); // exact tie -> lower index
  }

  @Test
  public void learnedWeightsWithoutMassGiveUnknown() {
    LearnedWeights w = new LearnedWeights(Arrays.asList("face", "physio"),
        new double[][] {{0.6, 0.2, 0.0}, {0.4, 0.8, 0.0}}, "accuracy", null);
    FusionResult r = Fusion.fuse(Arrays.asList(face(0.0, 0.0, 1.0)), 10.0,
        config("learned_weights", w, 0.0));
    assertTrue(r.isUnknown());
    assertEquals(ExclusionKind.ZERO_MASS, r.excluded().get(1).kind());
    assertEquals("face", r.excluded().get(1).modality());
  }

  @Test
  public void malformedReadingsAndConfigsThrow() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Fusion.fuse(Arrays.asList(face(0.5, 0.3, 0.1)), 10.0, DEFAULTS));
    assertEquals("reading 'face': probs must be non-negative and sum to 1; got [0.5, 0.3, 0.1]",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Fusion.fuse(Arrays.asList(face(new double[7])), 10.0, DEFAULTS));
    assertTrue(e.getMessage(), e.getMessage().contains("probs must have shape [3]"));
    e = assertThrows(IllegalArgumentException.class, () -> Fusion.fuse(
        Arrays.asList(face(1, 0, 0), face(1, 0, 0)), 10.0, DEFAULTS));
    assertEquals("readings hold modality 'face' twice", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Fusion.fuse(
        Arrays.asList(new ModalityReading("audio", null, 1.0)), 10.0, DEFAULTS));
    assertEquals("reading modality 'audio' is not configured; expected one of [face, physio]",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> config("learned_weights", null, 0.0));
    assertTrue(e.getMessage(), e.getMessage().startsWith("strategy 'learned_weights' needs"));
    e = assertThrows(IllegalArgumentException.class, () -> FusionConfig.fromJson(
        "{\"version\": 2}"));
    assertTrue(e.getMessage(), e.getMessage().startsWith("fusion config: unknown keys []"));
    e = assertThrows(IllegalArgumentException.class, () -> FusionConfig.fromJson(
        "{\"version\": 3}"));
    assertEquals("fusion config version must be one of [1, 2] (this runtime's); got 3",
        e.getMessage());
    Map<String, String> spaces = new TreeMap<>();
    spaces.put("face", "fer7");
    spaces.put("physio", "wesad3");
    Map<String, Double> eye = new TreeMap<>();
    eye.put("eye", 1.0);
    e = assertThrows(IllegalArgumentException.class, () -> new FusionConfig(
        "confidence_weighted", "max_prob", 2.0, 0.5, 1e-6, 0.0, 5.0, spaces, null, eye));
    assertEquals("pooling_half_life_s must name configured modalities ([face, physio]) at most "
        + "once each; got [eye]", e.getMessage());
    Map<String, Double> negative = new TreeMap<>();
    negative.put("face", -1.0);
    e = assertThrows(IllegalArgumentException.class, () -> new FusionConfig(
        "confidence_weighted", "max_prob", 2.0, 0.5, 1e-6, 0.0, 5.0, spaces, null, negative));
    assertEquals("pooling_half_life_s['face'] must be finite and in [0.0, inf); got -1.0",
        e.getMessage());
  }

  @Test
  public void enginePoolsNewReadingsInLogSpace() {
    Map<String, String> spaces = new TreeMap<>();
    spaces.put("face", "fer7");
    spaces.put("physio", "wesad3");
    Map<String, Double> pooling = new TreeMap<>();
    pooling.put("face", 1.0);
    FusionEngine engine = new FusionEngine(new FusionConfig("confidence_weighted", "max_prob",
        2.0, 0.5, 1e-6, 0.0, 5.0, spaces, null, pooling));
    engine.update(Arrays.asList(faceAt(0.0, 0.8, 0.1, 0.1)), 0.0);
    FusionResult r = engine.update(Arrays.asList(faceAt(1.0, 0.1, 0.1, 0.8)), 1.0);
    double a = Math.sqrt(0.08);
    double b = Math.sqrt(0.01);
    double[] mean = {a / (a + b + a), b / (a + b + a), a / (a + b + a)};
    assertArrayEquals(mean, r.probs(), 1e-12); // one half-life: the geometric mean
    assertArrayEquals(mean, engine.pooledProbs("face"), 1e-12);
    assertNull(engine.pooledProbs("physio"));
    engine.update(Arrays.asList(faceAt(1.0, 0.1, 0.1, 0.8)), 1.5); // the same reading again
    assertArrayEquals(mean, engine.pooledProbs("face"), 1e-12);
    engine.update(Arrays.asList(faceAt(9.0, 0.2, 0.7, 0.1)), 9.0); // gap > reset: restart
    assertArrayEquals(new double[] {0.2, 0.7, 0.1}, engine.pooledProbs("face"), 1e-12);
    engine.reset();
    assertNull(engine.pooledProbs("face"));
  }

  @Test
  public void fusionJsonRoundTripsThePythonFormat() {
    String json = "{\"version\": 2, \"labels\": [\"neutral\", \"positive\", \"negative\"],"
        + " \"strategy\": \"majority_vote\", \"confidence_measure\": \"entropy\","
        + " \"max_age_s\": 1.5, \"min_quality\": 0.25, \"epsilon\": 1e-06,"
        + " \"smoothing_half_life_s\": 2.0, \"smoothing_reset_gap_s\": 5.0,"
        + " \"modality_label_spaces\": {\"physio\": \"drivedb3\", \"face\": \"fer7\"},"
        + " \"learned_weights\": null, \"pooling_half_life_s\": {\"face\": 3.0}}";
    FusionConfig c = FusionConfig.fromJson(json);
    assertEquals("majority_vote", c.strategy());
    assertEquals(Arrays.asList("face", "physio"), c.modalities());
    assertEquals(1.5, c.maxAgeS(), 0.0);
    assertEquals(3.0, c.poolingHalfLife("face"), 0.0);
    assertEquals(0.0, c.poolingHalfLife("physio"), 0.0);
    // Version 1 (before reading pooling) reads as unpooled; the pooling key is unknown there.
    String v1 = json.replace("\"version\": 2", "\"version\": 1")
        .replace(", \"pooling_half_life_s\": {\"face\": 3.0}", "");
    assertTrue(FusionConfig.fromJson(v1).poolingHalfLifeS().isEmpty());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FusionConfig.fromJson(json.replace("\"version\": 2", "\"version\": 1")));
    assertTrue(e.getMessage(), e.getMessage().startsWith(
        "fusion config: unknown keys [pooling_half_life_s]"));
    e = assertThrows(IllegalArgumentException.class,
        () -> FusionConfig.fromJson(json.replace("\"neutral\", ", "")));
    assertTrue(e.getMessage(), e.getMessage().startsWith("fusion config labels must be"));
    e = assertThrows(IllegalArgumentException.class,
        () -> FusionConfig.fromJson(json.replace("1.5", "0")));
    assertEquals("max_age_s must be finite and in (0.0, inf); got 0.0", e.getMessage());
  }

  @Test
  public void engineSmoothsResetsAndSkipsUnknownSteps() {
    FusionEngine engine = new FusionEngine(config("confidence_weighted", null, 1.0));
    FusionResult r = engine.update(Arrays.asList(new ModalityReading("face",
        new double[] {0.6, 0.3, 0.1}, 0.0)), 0.0);
    assertArrayEquals(new double[] {0.6, 0.3, 0.1}, r.probs(), 0.0);
    assertTrue(r.smoothed());
    r = engine.update(Arrays.asList(new ModalityReading("face", new double[] {0.2, 0.2, 0.6},
        1.0)), 1.0); // dt = half-life -> alpha = 0.5
    assertArrayEquals(new double[] {0.4, 0.25, 0.35}, r.probs(), 1e-15);
    assertEquals("neutral", r.label());
    r = engine.update(Collections.<ModalityReading>emptyList(), 1.5);
    assertTrue(r.isUnknown());
    r = engine.update(Arrays.asList(new ModalityReading("face", new double[] {0.1, 0.1, 0.8},
        8.0)), 8.0); // gap 7 s > reset 5 s
    assertArrayEquals(new double[] {0.1, 0.1, 0.8}, r.probs(), 0.0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> engine.update(Collections.<ModalityReading>emptyList(), 7.0));
    assertEquals("now_s must not decrease; got 7.0 after 8.0", e.getMessage());
    engine.reset();
    assertTrue(engine.update(Collections.<ModalityReading>emptyList(), 0.0).isUnknown());
  }
}
