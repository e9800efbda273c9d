package org.fedmultiemo.bridge.assets;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ManifestVerifierTest {
  /** sha256("abc"), the FIPS 180-2 test vector. */
  private static final String ABC_SHA256 =
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  private static final String CONTENTS = "{\"models\": {}, \"labels\": {\"fused\": \"a.txt\"},"
      + " \"preprocessing\": \"a.txt\", \"fusion\": \"a.txt\", \"features\": \"a.txt\"}";

  @Rule public TemporaryFolder tmp = new TemporaryFolder();
  private Path dir;

  private void write(String name, String text) throws IOException {
    Files.write(dir.resolve(name), text.getBytes(StandardCharsets.UTF_8));
  }

  private void manifest(String format, int version, String contents, String files)
      throws IOException {
    write("manifest.json", "{\"format\": \"" + format + "\", \"schema_version\": " + version
        + ", \"created\": {}, \"contents\": " + contents + ", \"files\": " + files + "}");
  }

  private BundleVerificationException failure() {
    return assertThrows(BundleVerificationException.class,
        () -> ManifestVerifier.verify(new DirectoryAssetSource(dir)));
  }

  @Before
  public void validBundle() throws IOException {
    dir = tmp.newFolder("bundle").toPath();
    write("a.txt", "abc");
    manifest("fedmultiemo-model-bundle", 1, CONTENTS,
        "{\"a.txt\": {\"sha256\": \"" + ABC_SHA256 + "\", \"size_bytes\": 3}}");
  }

  @Test
  public void validBundlePasses() throws IOException {
    Map<String, Object> m = ManifestVerifier.verify(new DirectoryAssetSource(dir));
    assertEquals(1L, m.get("schema_version"));
    manifest("fedmultiemo-model-bundle", 2, CONTENTS,
        "{\"a.txt\": {\"sha256\": \"" + ABC_SHA256 + "\", \"size_bytes\": 3}}");
    assertEquals(2L, ManifestVerifier.verify(new DirectoryAssetSource(dir)).get("schema_version"));
    assertEquals(ABC_SHA256,
        ManifestVerifier.digest(new DirectoryAssetSource(dir), "a.txt").sha256);
  }

  @Test
  public void alteredFilesAreNamed() throws IOException {
    write("a.txt", "abd");
    BundleVerificationException e = failure();
    assertTrue(e.getMessage(),
        e.getMessage().contains("file 'a.txt' was altered: sha256 does not match the manifest"));
    assertEquals(Collections.singletonList("a.txt"), e.files());
    write("a.txt", "abcd");
    assertTrue(failure().getMessage().contains("file 'a.txt' was altered: size 4 != 3"));
    Files.delete(dir.resolve("a.txt"));
    assertTrue(failure().getMessage().contains("file 'a.txt' is missing"));
  }

  @Test
  public void extraFilesAndDirectoriesAreRejected() throws IOException {
    write("b.txt", "extra");
    Files.createDirectory(dir.resolve("sub"));
    BundleVerificationException e = failure();
    assertTrue(e.getMessage(), e.getMessage().contains(
        "file 'b.txt' is not listed in the manifest (extra file)"));
    assertTrue(e.getMessage(), e.getMessage().contains("'sub' is a directory (bundles are flat)"));
    assertEquals(2, e.problems().size());
  }

  @Test
  public void invalidManifestsAreRejected() throws IOException {
    manifest("other-format", 1, CONTENTS, "{}");
    assertTrue(failure().getMessage().startsWith(
        "manifest.json: format must be 'fedmultiemo-model-bundle'; got 'other-format'"));
    manifest("fedmultiemo-model-bundle", 3, CONTENTS, "{}");
    assertTrue(failure().getMessage().startsWith(
        "manifest.json: unknown schema_version 3; this runtime supports [1, 2]"));
    manifest("fedmultiemo-model-bundle", 1, CONTENTS,
        "{\"../a.txt\": {\"sha256\": \"" + ABC_SHA256 + "\", \"size_bytes\": 3}}");
    BundleVerificationException e = failure();
    assertTrue(e.getMessage(), e.getMessage().contains(
        "listed file name '../a.txt' is not a plain file name"));
    assertTrue(e.getMessage(), e.getMessage().contains(
        "contents refers to 'a.txt', which is not listed in files"));
    manifest("fedmultiemo-model-bundle", 1, "{\"models\": {}}", "{\"a.txt\": {}}");
    assertTrue(failure().getMessage().startsWith("manifest.json: contents must have keys"));
    write("manifest.json", "{not json");
    assertTrue(failure().getMessage().startsWith("manifest.json in '"));
    Files.delete(dir.resolve("manifest.json"));
    FileNotFoundException missing = assertThrows(FileNotFoundException.class,
        () -> ManifestVerifier.verify(new DirectoryAssetSource(dir)));
    assertTrue(missing.getMessage().endsWith("has no manifest.json"));
  }
}
