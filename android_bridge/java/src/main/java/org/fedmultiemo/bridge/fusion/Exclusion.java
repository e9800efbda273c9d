package org.fedmultiemo.bridge.fusion;

/** One excluded modality: its kind and a human-readable reason. */
public final class Exclusion {
  private final String modality;
  private final ExclusionKind kind;
  private final String reason;

  public Exclusion(String modality, ExclusionKind kind, String reason) {
    this.modality = modality;
    this.kind = kind;
    this.reason = reason;
  }

  public String modality() {
    return modality;
  }

  public ExclusionKind kind() {
    return kind;
  }

  public String reason() {
    return reason;
  }

  @Override
  public String toString() {
    return modality + ": " + reason;
  }
}
