package org.fedmultiemo.bridge.quant;

/** The 8-bit tensor types of TFLite model inputs/outputs and their value ranges. */
public enum QuantizedType {
  INT8("int8", -128, 127),
  UINT8("uint8", 0, 255);

  private final String jsonName;
  private final int min;
  private final int max;

  QuantizedType(String jsonName, int min, int max) {
    this.jsonName = jsonName;
    this.min = min;
    this.max = max;
  }

  /** The dtype name used in preprocessing.json ("int8", "uint8"). */
  public String jsonName() {
    return jsonName;
  }

  public int min() {
    return min;
  }

  public int max() {
    return max;
  }

  /** The type called {@code name}, or null for other dtypes (e.g. "float32"). */
  public static QuantizedType fromName(String name) {
    for (QuantizedType t : values()) {
      if (t.jsonName.equals(name)) {
        return t;
      }
    }
    return null;
  }
}
