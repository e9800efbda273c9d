package org.fedmultiemo.bridge.labels;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** An ordered set of class names; index i is class id i (port of emocore.label_spaces.LabelSpace). */
public final class LabelSpace {
  private final String name;
  private final List<String> labels;

  public LabelSpace(String name, String... labels) {
    if (name == null || name.isEmpty() || labels.length == 0) {
      throw new IllegalArgumentException("a label space needs a name and at least one label");
    }
    this.name = name;
    this.labels = Collections.unmodifiableList(Arrays.asList(labels.clone()));
  }

  public String name() {
    return name;
  }

  public List<String> labels() {
    return labels;
  }

  public int numClasses() {
    return labels.size();
  }

  /** Class id of {@code label}; throws naming the space when unknown. */
  public int index(String label) {
    int i = labels.indexOf(label);
    if (i < 0) {
      throw new IllegalArgumentException(
          "label '" + label + "' is not in label space '" + name + "'; expected one of " + labels);
    }
    return i;
  }

  @Override
  public String toString() {
    return name + labels;
  }
}
