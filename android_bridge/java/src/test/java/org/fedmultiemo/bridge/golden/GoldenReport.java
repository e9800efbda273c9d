package org.fedmultiemo.bridge.golden;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Counts, maximum deviations and mismatches per golden section; written as JSON for pytest. */
final class GoldenReport {
  /** One section's tallies. */
  static final class Section {
    int vectors;
    int vectorsMatched;
    long values;
    long bitExact;
    double maxAbsDev;
    double maxRelDev;
    final List<String> mismatches = new ArrayList<>();

    /** Compares one value; returns whether it is within tolerance. */
    boolean value(String where, double actual, double expected, double relTol, double absTol) {
      values++;
      if (Double.isNaN(expected) || Double.isNaN(actual)) {
        boolean ok = Double.isNaN(expected) && Double.isNaN(actual);
        if (ok) {
          bitExact++;
        } else {
          mismatch(where + ": got " + actual + ", expected " + expected);
        }
        return ok;
      }
      if (actual == expected) {
        bitExact++;
        return true;
      }
      double abs = Math.abs(actual - expected);
      double rel = expected == 0 ? Double.POSITIVE_INFINITY : abs / Math.abs(expected);
      maxAbsDev = Math.max(maxAbsDev, abs);
      if (expected != 0) {
        maxRelDev = Math.max(maxRelDev, rel);
      }
      boolean ok = abs <= absTol || rel <= relTol;
      if (!ok) {
        mismatch(where + ": got " + actual + ", expected " + expected + " (|diff| " + abs + ")");
      }
      return ok;
    }

    /** Compares an exact (discrete) value. */
    boolean exact(String where, Object actual, Object expected) {
      values++;
      boolean ok = java.util.Objects.equals(actual, expected);
      if (ok) {
        bitExact++;
      } else {
        mismatch(where + ": got " + actual + ", expected " + expected);
      }
      return ok;
    }

    void mismatch(String message) {
      if (mismatches.size() < 50) {
        mismatches.add(message);
      }
    }

    void vector(boolean matched) {
      vectors++;
      if (matched) {
        vectorsMatched++;
      }
    }
  }

  private final Map<String, Section> sections = new LinkedHashMap<>();

  synchronized Section section(String name) {
    return sections.computeIfAbsent(name, k -> new Section());
  }

  synchronized void write(Path path) throws IOException {
    StringBuilder out = new StringBuilder("{\n");
    int i = 0;
    for (Map.Entry<String, Section> e : sections.entrySet()) {
      Section s = e.getValue();
      out.append("  \"").append(e.getKey()).append("\": {")
          .append("\"vectors\": ").append(s.vectors)
          .append(", \"vectors_matched\": ").append(s.vectorsMatched)
          .append(", \"values\": ").append(s.values)
          .append(", \"bit_exact\": ").append(s.bitExact)
          .append(", \"max_abs_dev\": ").append(s.maxAbsDev)
          .append(", \"max_rel_dev\": ").append(s.maxRelDev)
          .append(", \"mismatches\": [");
      for (int m = 0; m < s.mismatches.size(); m++) {
        out.append(m == 0 ? "" : ", ").append(quote(s.mismatches.get(m)));
      }
      out.append("]}").append(++i < sections.size() ? ",\n" : "\n");
    }
    out.append("}\n");
    Files.write(path, out.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static String quote(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }
}
