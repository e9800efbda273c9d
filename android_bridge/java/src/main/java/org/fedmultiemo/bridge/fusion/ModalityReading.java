package org.fedmultiemo.bridge.fusion;

/**
 * One modality's latest output: {@code probs: double[3]} over DRIVER_STATE3 (null or NaN =
 * missing), its timestamp (s, same clock as {@code now}) and a quality in [0, 1].
 */
public final class ModalityReading {
  private final String modality;
  private final double[] probs;
  private final double timestampS;
  private final double quality;

  public ModalityReading(String modality, double[] probs, double timestampS, double quality) {
    if (modality == null) {
      throw new IllegalArgumentException("modality must not be null");
    }
    this.modality = modality;
    this.probs = probs == null ? null : probs.clone();
    this.timestampS = timestampS;
    this.quality = quality;
  }

  /** A reading with quality 1. */
  public ModalityReading(String modality, double[] probs, double timestampS) {
    this(modality, probs, timestampS, 1.0);
  }

  public String modality() {
    return modality;
  }

  /** A copy of the probabilities, or null. */
  public double[] probs() {
    return probs == null ? null : probs.clone();
  }

  public double timestampS() {
    return timestampS;
  }

  public double quality() {
    return quality;
  }
}
