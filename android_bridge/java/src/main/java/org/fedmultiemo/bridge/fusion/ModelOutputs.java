package org.fedmultiemo.bridge.fusion;

import org.fedmultiemo.bridge.numeric.NumpySum;

/**
 * Model outputs -> fusion inputs, as the Python edge does it (tflite_edge.face_pipeline
 * postprocess, tflite_edge.physio_stream predict): probabilities are clipped at 0 and renormalised
 * to sum 1 (a dequantized int8 softmax sums to 1 only within a few output steps), and a physio
 * reading's quality is the fraction of finite features (none finite: no prediction, the modality
 * is missing).
 */
public final class ModelOutputs {
  private ModelOutputs() {}

  /** {@code output: float[C]} -> {@code double[C]} = max(p, 0) / sum(max(p, 0)). */
  public static double[] normalise(float[] output) {
    double[] probs = new double[output.length];
    for (int i = 0; i < output.length; i++) {
      probs[i] = Math.max((double) output[i], 0.0);
    }
    double total = NumpySum.sum(probs);
    if (!(Double.isFinite(total) && total > 0)) {
      throw new IllegalArgumentException(
          "model output is not a probability vector: " + java.util.Arrays.toString(output));
    }
    for (int i = 0; i < probs.length; i++) {
      probs[i] = probs[i] / total;
    }
    return probs;
  }

  /** Fraction of finite values of {@code features} (the physio reading's quality). */
  public static double finiteFraction(float[] features) {
    int finite = 0;
    for (float f : features) {
      if (Float.isFinite(f)) {
        finite++;
      }
    }
    return features.length == 0 ? Double.NaN : (double) finite / features.length;
  }
}
