package org.fedmultiemo.bridge.assets;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.fedmultiemo.bridge.json.Json;
import org.fedmultiemo.bridge.json.JsonException;

/**
 * Verifies an asset bundle against its manifest.json with the rules of
 * tflite_edge.bundle.verify_bundle: known format and schema version; every listed file a plain
 * name with a 64-hex sha256 and an integer size; contents referring only to listed files; no
 * unlisted file, subdirectory or symlink; every listed file present with the listed size and
 * sha256 ({@link MessageDigest} "SHA-256").
 */
public final class ManifestVerifier {
  public static final String BUNDLE_FORMAT = "fedmultiemo-model-bundle";
  public static final List<Long> SUPPORTED_SCHEMA_VERSIONS = Arrays.asList(1L, 2L);
  public static final String MANIFEST_NAME = "manifest.json";
  public static final List<String> CONTENT_KEYS =
      Arrays.asList("models", "labels", "preprocessing", "fusion", "features");
  private static final Pattern SAFE_NAME = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]*$");
  private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");

  private ManifestVerifier() {}

  /** True for a plain file name (no directory part, no leading dot, not the manifest). */
  public static boolean isSafeFileName(String name) {
    return name != null && SAFE_NAME.matcher(name).matches() && !name.equals(MANIFEST_NAME);
  }

  /** The hex sha256 and the size of one file. */
  public static final class FileDigest {
    public final String sha256;
    public final long sizeBytes;

    FileDigest(String sha256, long sizeBytes) {
      this.sha256 = sha256;
      this.sizeBytes = sizeBytes;
    }
  }

  /** Hex sha256 and size in bytes of file {@code name} of {@code source}. */
  public static FileDigest digest(AssetSource source, String name) throws IOException {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is not available", e);
    }
    long size = 0;
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = source.open(name)) {
      int read;
      while ((read = in.read(buffer)) > 0) {
        sha.update(buffer, 0, read);
        size += read;
      }
    }
    StringBuilder hex = new StringBuilder(64);
    for (byte b : sha.digest()) {
      hex.append(String.format("%02x", b & 0xFF));
    }
    return new FileDigest(hex.toString(), size);
  }

  /** Reads all of file {@code name} as UTF-8 text. */
  public static String readText(AssetSource source, String name) throws IOException {
    return new String(readBytes(source, name), StandardCharsets.UTF_8);
  }

  /** Reads all of file {@code name}. */
  public static byte[] readBytes(AssetSource source, String name) throws IOException {
    try (InputStream in = source.open(name)) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      byte[] buffer = new byte[1 << 16];
      int read;
      while ((read = in.read(buffer)) > 0) {
        out.write(buffer, 0, read);
      }
      return out.toByteArray();
    }
  }

  /**
   * Checks every file of {@code source} against its manifest; returns the parsed manifest.
   *
   * @throws FileNotFoundException when there is no manifest.json
   * @throws BundleVerificationException listing every problem otherwise
   */
  public static Map<String, Object> verify(AssetSource source) throws IOException {
    String where = source.describe();
    Map<String, Object> manifest = readManifest(source);
    Object filesValue = manifest.get("files");
    if (!(filesValue instanceof Map) || ((Map<?, ?>) filesValue).isEmpty()) {
      throw failure(where + ": " + MANIFEST_NAME + ": files must be a non-empty object",
          new ArrayList<>(), new ArrayList<>());
    }
    Map<String, Object> files = new TreeMap<>(Json.object(filesValue, "files"));
    List<String> problems = new ArrayList<>();
    List<String> offending = new ArrayList<>();
    for (Map.Entry<String, Object> e : files.entrySet()) {
      String name = e.getKey();
      if (!isSafeFileName(name)) {
        problem(problems, offending, name,
            "listed file name '" + name + "' is not a plain file name");
      } else if (!validEntry(e.getValue())) {
        problem(problems, offending, name, "file '" + name
            + "': entry needs sha256 (64 hex) and size_bytes; got " + Json.describe(e.getValue()));
      }
    }
    for (String ref : contentRefs(manifest.get("contents"))) {
      if (!files.containsKey(ref)) {
        problem(problems, offending, ref,
            "contents refers to '" + ref + "', which is not listed in files");
      }
    }
    if (!problems.isEmpty()) {
      throw failure("bundle '" + where + "' has an invalid manifest:\n- "
          + String.join("\n- ", problems), problems, offending);
    }
    for (String name : source.list()) {
      if (name.equals(MANIFEST_NAME)) {
        continue;
      }
      AssetSource.EntryType type = source.type(name);
      if (type == AssetSource.EntryType.SYMLINK) {
        problem(problems, offending, name, "'" + name + "' is a symlink (not allowed in a bundle)");
      } else if (type == AssetSource.EntryType.DIRECTORY) {
        problem(problems, offending, name, "'" + name + "' is a directory (bundles are flat)");
      } else if (!files.containsKey(name)) {
        problem(problems, offending, name,
            "file '" + name + "' is not listed in the manifest (extra file)");
      }
    }
    for (Map.Entry<String, Object> e : files.entrySet()) {
      String name = e.getKey();
      Map<String, Object> entry = Json.object(e.getValue(), "files." + name);
      AssetSource.EntryType type = source.type(name);
      if (type == AssetSource.EntryType.MISSING) {
        problem(problems, offending, name, "file '" + name + "' is missing");
        continue;
      }
      if (type != AssetSource.EntryType.FILE) {
        continue; // reported above as a symlink or directory
      }
      FileDigest digest = digest(source, name);
      long size = digest.sizeBytes;
      long expectedSize = (Long) entry.get("size_bytes");
      if (size != expectedSize) {
        problem(problems, offending, name,
            "file '" + name + "' was altered: size " + size + " != " + expectedSize);
      } else if (!digest.sha256.equals(entry.get("sha256"))) {
        problem(problems, offending, name,
            "file '" + name + "' was altered: sha256 does not match the manifest");
      }
    }
    if (!problems.isEmpty()) {
      throw failure("bundle '" + where + "' failed verification:\n- "
          + String.join("\n- ", problems), problems, offending);
    }
    return manifest;
  }

  private static Map<String, Object> readManifest(AssetSource source) throws IOException {
    String where = source.describe();
    if (source.type(MANIFEST_NAME) != AssetSource.EntryType.FILE) {
      throw new FileNotFoundException("bundle '" + where + "' has no " + MANIFEST_NAME);
    }
    Object parsed;
    try {
      parsed = Json.parse(readText(source, MANIFEST_NAME));
    } catch (JsonException e) {
      throw failure(MANIFEST_NAME + " in '" + where + "' is not valid JSON: " + e.getMessage(),
          new ArrayList<>(), new ArrayList<>(Arrays.asList(MANIFEST_NAME)));
    }
    if (!(parsed instanceof Map)) {
      throw manifestError(MANIFEST_NAME + " must hold a JSON object; got "
          + Json.describe(parsed));
    }
    Map<String, Object> manifest = Json.object(parsed, MANIFEST_NAME);
    if (!BUNDLE_FORMAT.equals(manifest.get("format"))) {
      throw manifestError(MANIFEST_NAME + ": format must be '" + BUNDLE_FORMAT + "'; got "
          + Json.describe(manifest.get("format")));
    }
    Object version = manifest.get("schema_version");
    if (!(version instanceof Long) || !SUPPORTED_SCHEMA_VERSIONS.contains(version)) {
      throw manifestError(MANIFEST_NAME + ": unknown schema_version " + Json.describe(version)
          + "; this runtime supports " + SUPPORTED_SCHEMA_VERSIONS);
    }
    List<String> missing = new ArrayList<>();
    for (String key : new String[] {"created", "contents", "files"}) {
      if (!manifest.containsKey(key)) {
        missing.add(key);
      }
    }
    if (!missing.isEmpty()) {
      throw manifestError(MANIFEST_NAME + ": missing keys " + missing);
    }
    return manifest;
  }

  /** Every file name referenced by contents (values or values of nested objects). */
  static List<String> contentRefs(Object contents) throws BundleVerificationException {
    if (!(contents instanceof Map)
        || !new java.util.TreeSet<>(((Map<?, ?>) contents).keySet())
            .equals(new java.util.TreeSet<>(CONTENT_KEYS))) {
      throw manifestError(MANIFEST_NAME + ": contents must have keys "
          + new java.util.TreeSet<>(CONTENT_KEYS) + "; got " + Json.describe(contents));
    }
    Map<String, Object> map = Json.object(contents, "contents");
    List<String> refs = new ArrayList<>();
    for (String key : CONTENT_KEYS) {
      Object value = map.get(key);
      if (value instanceof Map) {
        for (Object v : ((Map<?, ?>) value).values()) {
          addRef(refs, v, key);
        }
      } else {
        addRef(refs, value, key);
      }
    }
    return refs;
  }

  private static void addRef(List<String> refs, Object value, String key)
      throws BundleVerificationException {
    if (value == null) {
      return;
    }
    if (!(value instanceof String)) {
      throw manifestError(MANIFEST_NAME + ": contents." + key + " must name files; got "
          + Json.describe(value));
    }
    refs.add((String) value);
  }

  private static boolean validEntry(Object value) {
    if (!(value instanceof Map)) {
      return false;
    }
    Map<?, ?> entry = (Map<?, ?>) value;
    Object sha = entry.get("sha256");
    return sha instanceof String && SHA256.matcher((String) sha).matches()
        && entry.get("size_bytes") instanceof Long;
  }

  private static void problem(List<String> problems, List<String> offending, String file,
      String message) {
    problems.add(message);
    if (!offending.contains(file)) {
      offending.add(file);
    }
  }

  private static BundleVerificationException manifestError(String message) {
    return failure(message, new ArrayList<>(Arrays.asList(message)),
        new ArrayList<>(Arrays.asList(MANIFEST_NAME)));
  }

  private static BundleVerificationException failure(String message, List<String> problems,
      List<String> files) {
    if (problems.isEmpty()) {
      problems.add(message);
    }
    return new BundleVerificationException(message, problems, files);
  }
}
