package org.fedmultiemo.bridge.tflite;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.fedmultiemo.bridge.assets.EdgeAssets;
import org.fedmultiemo.bridge.assets.TensorSpec;
import org.fedmultiemo.bridge.quant.Quantization;
import org.fedmultiemo.bridge.quant.QuantizedType;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;

/**
 * One model of an asset bundle on the TFLite Java runtime (Gradle:
 * {@code org.tensorflow:tensorflow-lite:2.14.0}); the Android twin of tflite_edge.TFLiteModel.
 *
 * <p>{@link #predict} quantizes the float input with the bridge's {@link Quantization} (the same
 * half-away-from-zero rounding as the Python edge, never TFLite's in-graph QUANTIZE), runs the
 * interpreter and dequantizes the output. The tensor specs recorded in preprocessing.json must
 * match the interpreter's, or the constructor throws. Not thread-safe (one Interpreter).
 *
 * <p>This source set is not compiled by build.sh (it needs the TFLite AAR).
 */
public final class TfliteModel implements AutoCloseable {
  private final Interpreter interpreter;
  private final TensorSpec input;
  private final TensorSpec output;
  private final ByteBuffer inputBuffer;
  private final ByteBuffer outputBuffer;

  /** Loads model {@code role} (e.g. "face_int8", "physio") of {@code assets}. */
  public TfliteModel(EdgeAssets assets, String role, int numThreads) throws IOException {
    String file = assets.models().get(role);
    if (file == null) {
      throw new IllegalArgumentException(
          "no model role '" + role + "'; have " + assets.models().keySet());
    }
    input = assets.input(file);
    output = assets.output(file);
    byte[] bytes = assets.modelBytes(role);
    ByteBuffer model = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
    model.put(bytes);
    model.rewind();
    interpreter = new Interpreter(model, new Interpreter.Options().setNumThreads(numThreads));
    Tensor in = interpreter.getInputTensor(0);
    Tensor out = interpreter.getOutputTensor(0);
    try {
      check(input, in, file + " input");
      check(output, out, file + " output");
    } catch (RuntimeException e) {
      interpreter.close();
      throw e;
    }
    inputBuffer = ByteBuffer.allocateDirect(in.numBytes()).order(ByteOrder.nativeOrder());
    outputBuffer = ByteBuffer.allocateDirect(out.numBytes()).order(ByteOrder.nativeOrder());
  }

  private static void check(TensorSpec spec, Tensor tensor, String where) {
    String dtype = dtypeName(tensor.dataType());
    if (!spec.dtype().equals(dtype)) {
      fail(where + ": preprocessing.json says " + spec.dtype() + ", the model has " + dtype);
    }
    if (spec.quantizedType() != null) {
      Tensor.QuantizationParams q = tensor.quantizationParams();
      if ((float) (double) spec.scale() != q.getScale() || spec.zeroPoint() != q.getZeroPoint()) {
        fail(where + ": preprocessing.json quantization (" + spec.scale() + ", "
            + spec.zeroPoint() + ") differs from the model's (" + q.getScale() + ", "
            + q.getZeroPoint() + ")");
      }
    }
  }

  private static void fail(String message) {
    throw new IllegalStateException(message);
  }

  private static String dtypeName(DataType type) {
    switch (type) {
      case FLOAT32:
        return "float32";
      case INT8:
        return "int8";
      case UINT8:
        return "uint8";
      default:
        return type.toString().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public TensorSpec inputSpec() {
    return input;
  }

  public TensorSpec outputSpec() {
    return output;
  }

  /** Runs an input that is already quantized ({@code int[]} in the input type's range). */
  public int[] invokeQuantized(int[] q) {
    QuantizedType type = input.quantizedType();
    if (type == null) {
      throw new IllegalStateException(input.name() + " is " + input.dtype() + ", not quantized");
    }
    inputBuffer.clear();
    inputBuffer.put(Quantization.toTensorBytes(q, type));
    run();
    QuantizedType outType = output.quantizedType();
    if (outType == null) {
      throw new IllegalStateException(output.name() + " is " + output.dtype() + "; use predict");
    }
    byte[] raw = new byte[outputBuffer.remaining()];
    outputBuffer.get(raw);
    return Quantization.fromTensorBytes(raw, outType);
  }

  /**
   * {@code x: float[N]} (the model's float input, e.g. the 48x48 face in [0,1] or the physio
   * features) -> {@code float[C]} (dequantized output).
   */
  public float[] predict(float[] x) {
    QuantizedType inType = input.quantizedType();
    inputBuffer.clear();
    if (inType != null) {
      int[] q = Quantization.quantize(x, input.scale(), input.zeroPoint(), inType);
      inputBuffer.put(Quantization.toTensorBytes(q, inType));
    } else {
      for (float v : x) {
        inputBuffer.putFloat(v);
      }
    }
    run();
    QuantizedType outType = output.quantizedType();
    if (outType != null) {
      byte[] raw = new byte[outputBuffer.remaining()];
      outputBuffer.get(raw);
      return Quantization.dequantize(Quantization.fromTensorBytes(raw, outType), output.scale(),
          output.zeroPoint());
    }
    float[] out = new float[outputBuffer.remaining() / 4];
    outputBuffer.asFloatBuffer().get(out);
    return out;
  }

  private void run() {
    if (inputBuffer.position() != inputBuffer.capacity()) {
      throw new IllegalArgumentException("input must fill the tensor: " + inputBuffer.capacity()
          + " bytes; got " + inputBuffer.position());
    }
    inputBuffer.rewind();
    outputBuffer.clear();
    interpreter.run(inputBuffer, outputBuffer);
    outputBuffer.rewind();
  }

  @Override
  public void close() {
    interpreter.close();
  }
}
