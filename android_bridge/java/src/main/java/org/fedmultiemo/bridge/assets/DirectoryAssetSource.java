package org.fedmultiemo.bridge.assets;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** An {@link AssetSource} over a directory on the file system (tests, desktop tools). */
public final class DirectoryAssetSource implements AssetSource {
  private final Path directory;

  public DirectoryAssetSource(Path directory) throws FileNotFoundException {
    if (directory == null || !Files.isDirectory(directory)) {
      throw new FileNotFoundException("asset directory '" + directory + "' does not exist");
    }
    this.directory = directory;
  }

  @Override
  public String describe() {
    return directory.toString();
  }

  @Override
  public InputStream open(String name) throws IOException {
    Path path = resolve(name);
    if (!Files.isRegularFile(path)) {
      throw new FileNotFoundException("file '" + name + "' is missing in " + directory);
    }
    return Files.newInputStream(path);
  }

  @Override
  public List<String> list() throws IOException {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory)) {
      for (Path p : stream) {
        out.add(p.getFileName().toString());
      }
    }
    Collections.sort(out);
    return out;
  }

  @Override
  public EntryType type(String name) {
    Path path = resolve(name);
    if (Files.isSymbolicLink(path)) {
      return EntryType.SYMLINK;
    }
    if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      return EntryType.DIRECTORY;
    }
    if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
      return EntryType.FILE;
    }
    return EntryType.MISSING;
  }

  private Path resolve(String name) {
    Path path = directory.resolve(name).normalize();
    if (!directory.normalize().equals(path.getParent())) {
      throw new IllegalArgumentException("asset name must be a plain file name; got '" + name + "'");
    }
    return path;
  }
}
