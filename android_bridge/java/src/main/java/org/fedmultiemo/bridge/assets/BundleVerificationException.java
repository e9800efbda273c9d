package org.fedmultiemo.bridge.assets;

import java.io.IOException;
import java.util.Collections;
import java.util.List;

/**
 * The asset bundle failed verification: an invalid manifest, or missing / altered / unlisted
 * files. The message lists every problem and names every offending file.
 */
public final class BundleVerificationException extends IOException {
  private static final long serialVersionUID = 1L;

  private final List<String> problems;
  private final List<String> files;

  public BundleVerificationException(String message, List<String> problems, List<String> files) {
    super(message);
    this.problems = Collections.unmodifiableList(problems);
    this.files = Collections.unmodifiableList(files);
  }

  /** One line per problem. */
  public List<String> problems() {
    return problems;
  }

  /** Names of the offending files (may be empty for manifest-level problems). */
  public List<String> files() {
    return files;
  }
}
