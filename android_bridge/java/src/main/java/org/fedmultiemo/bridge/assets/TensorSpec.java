package org.fedmultiemo.bridge.assets;

import java.util.Map;
import org.fedmultiemo.bridge.json.Json;
import org.fedmultiemo.bridge.quant.QuantizedType;

/**
 * One model input or output as recorded in preprocessing.json: name, dtype, shape signature
 * (-1 = dynamic) and per-tensor quantization (scale/zero-point, null for float tensors).
 */
public final class TensorSpec {
  private final String name;
  private final String dtype;
  private final int[] shape;
  private final Double scale;
  private final Long zeroPoint;

  public TensorSpec(String name, String dtype, int[] shape, Double scale, Long zeroPoint) {
    this.name = name;
    this.dtype = dtype;
    this.shape = shape.clone();
    this.scale = scale;
    this.zeroPoint = zeroPoint;
    if (quantizedType() != null && (scale == null || !(scale > 0) || zeroPoint == null)) {
      throw new IllegalArgumentException("tensor '" + name + "' is " + dtype
          + " without a quantization scale/zero_point; got scale=" + scale + ", zero_point="
          + zeroPoint);
    }
  }

  static TensorSpec fromJson(Map<String, Object> data, String where) {
    Object scale = Json.field(data, "scale", where);
    Object zeroPoint = Json.field(data, "zero_point", where);
    return new TensorSpec(
        Json.string(Json.field(data, "name", where), where + ".name"),
        Json.string(Json.field(data, "dtype", where), where + ".dtype"),
        Json.ints(Json.field(data, "shape", where), where + ".shape"),
        scale == null ? null : Json.number(scale, where + ".scale"),
        zeroPoint == null ? null : Json.integer(zeroPoint, where + ".zero_point"));
  }

  public String name() {
    return name;
  }

  /** "float32", "int8", "uint8", ... */
  public String dtype() {
    return dtype;
  }

  public int[] shape() {
    return shape.clone();
  }

  /** Number of elements of the shape (dynamic dims counted as 1). */
  public int numElements() {
    int n = 1;
    for (int d : shape) {
      n *= Math.max(d, 1);
    }
    return n;
  }

  /** The 8-bit type, or null for a float (or other) tensor. */
  public QuantizedType quantizedType() {
    return QuantizedType.fromName(dtype);
  }

  /** May be null. */
  public Double scale() {
    return scale;
  }

  /** May be null. */
  public Long zeroPoint() {
    return zeroPoint;
  }
}
