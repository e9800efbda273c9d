package org.fedmultiemo.bridge.labels;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The project's label spaces and their mapping into DRIVER_STATE3 (port of
 * emocore/label_spaces.py and emocore.fusion.to_driver_state).
 *
 * <p>Mappings are 0/1 matrices {@code [S][T]}; a probability vector maps with {@code p @ M}
 * (merged classes add; NaN stays NaN).
 */
public final class LabelSpaces {
  public static final LabelSpace FER7 =
      new LabelSpace("fer7", "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral");
  public static final LabelSpace WESAD3 =
      new LabelSpace("wesad3", "amusement", "baseline", "stress");
  public static final LabelSpace WESAD_BINARY =
      new LabelSpace("wesad_binary", "non_stress", "stress");
  public static final LabelSpace DRIVEDB3 = new LabelSpace("drivedb3", "low", "medium", "high");
  public static final LabelSpace DRIVER_STATE3 =
      new LabelSpace("driver_state3", "neutral", "positive", "negative");

  private static final Map<String, LabelSpace> SPACES;
  private static final Map<String, Map<String, String>> MAPPINGS = new HashMap<>();

  static {
    Map<String, LabelSpace> spaces = new LinkedHashMap<>();
    for (LabelSpace s : new LabelSpace[] {FER7, WESAD3, WESAD_BINARY, DRIVEDB3, DRIVER_STATE3}) {
      spaces.put(s.name(), s);
    }
    SPACES = Collections.unmodifiableMap(spaces);
    mapping("fer7", "driver_state3",
        "neutral", "neutral", "happy", "positive", "surprise", "positive", "angry", "negative",
        "disgust", "negative", "fear", "negative", "sad", "negative");
    mapping("wesad3", "driver_state3",
        "baseline", "neutral", "amusement", "positive", "stress", "negative");
    mapping("wesad3", "wesad_binary",
        "baseline", "non_stress", "amusement", "non_stress", "stress", "stress");
    mapping("drivedb3", "driver_state3",
        "low", "neutral", "medium", "negative", "high", "negative");
  }

  private LabelSpaces() {}

  private static void mapping(String source, String target, String... pairs) {
    Map<String, String> table = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      table.put(pairs[i], pairs[i + 1]);
    }
    MAPPINGS.put(source + "->" + target, table);
  }

  /** Every label space by name, in a fixed order. */
  public static Map<String, LabelSpace> all() {
    return SPACES;
  }

  /** The label space called {@code name}; throws listing the known names. */
  public static LabelSpace get(String name) {
    LabelSpace space = SPACES.get(name);
    if (space == null) {
      throw new IllegalArgumentException(
          "label_space must be one of " + new java.util.TreeSet<>(SPACES.keySet()) + "; got '"
              + name + "'");
    }
    return space;
  }

  /** True when {@code source} maps onto {@code target} (identity included). */
  public static boolean hasMapping(String source, String target) {
    get(source);
    get(target);
    return source.equals(target) || MAPPINGS.containsKey(source + "->" + target);
  }

  /** 0/1 matrix {@code [S][T]} mapping the classes of {@code source} onto {@code target}. */
  public static double[][] mappingMatrix(String source, String target) {
    LabelSpace src = get(source);
    LabelSpace dst = get(target);
    double[][] matrix = new double[src.numClasses()][dst.numClasses()];
    if (source.equals(target)) {
      for (int i = 0; i < matrix.length; i++) {
        matrix[i][i] = 1.0;
      }
      return matrix;
    }
    Map<String, String> table = MAPPINGS.get(source + "->" + target);
    if (table == null) {
      java.util.TreeSet<String> known = new java.util.TreeSet<>(MAPPINGS.keySet());
      throw new IllegalArgumentException("no mapping from '" + source + "' to '" + target
          + "'; known mappings: " + known);
    }
    for (int i = 0; i < src.numClasses(); i++) {
      matrix[i][dst.index(table.get(src.labels().get(i)))] = 1.0;
    }
    return matrix;
  }

  /**
   * {@code probs[S]} over {@code source} -> {@code double[3]} over DRIVER_STATE3: out[t] = sum over
   * s of probs[s] * M[s][t], accumulated in source-class order (NaN propagates to every class).
   */
  public static double[] toDriverState(double[] probs, String source) {
    double[][] matrix = mappingMatrix(source, DRIVER_STATE3.name());
    if (probs == null || probs.length != matrix.length) {
      throw new IllegalArgumentException("probs must have length " + matrix.length
          + " for label space '" + source + "'; got "
          + (probs == null ? "null" : String.valueOf(probs.length)));
    }
    double[] out = new double[DRIVER_STATE3.numClasses()];
    for (int t = 0; t < out.length; t++) {
      double acc = probs[0] * matrix[0][t];
      for (int s = 1; s < probs.length; s++) {
        acc += probs[s] * matrix[s][t];
      }
      out[t] = acc;
    }
    return out;
  }
}
