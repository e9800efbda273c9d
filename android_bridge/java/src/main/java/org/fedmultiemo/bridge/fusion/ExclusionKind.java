package org.fedmultiemo.bridge.fusion;

/** Why a modality was not fused (the reasons of emocore.fusion, by kind). */
public enum ExclusionKind {
  /** probs is null ("missing"). */
  MISSING("missing"),
  /** probs contain NaN ("missing (NaN probs)"). */
  NAN_PROBS("nan_probs"),
  /** no reading for a configured modality ("missing (no reading)"). */
  NO_READING("no_reading"),
  NON_FINITE_TIMESTAMP("non_finite_timestamp"),
  FUTURE_TIMESTAMP("future_timestamp"),
  /** age > max_age_s. */
  STALE("stale"),
  /** quality NaN or < min_quality. */
  LOW_QUALITY("low_quality"),
  /** learned weights give the remaining combination zero probability mass. */
  ZERO_MASS("zero_mass");

  private final String jsonName;

  ExclusionKind(String jsonName) {
    this.jsonName = jsonName;
  }

  /** The kind's name in golden vectors (emocore.fusion.ExclusionKind, the same values). */
  public String jsonName() {
    return jsonName;
  }
}
