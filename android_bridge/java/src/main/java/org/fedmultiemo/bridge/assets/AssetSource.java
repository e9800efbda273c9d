package org.fedmultiemo.bridge.assets;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

/**
 * Read access to one flat asset directory (e.g. {@code assets/fedmultiemo} through Android's
 * AssetManager, or a directory on disk via {@link DirectoryAssetSource}).
 */
public interface AssetSource {
  /** What an entry of the directory is. */
  enum EntryType {
    FILE, DIRECTORY, SYMLINK, MISSING
  }

  /** A human-readable name of the directory for error messages. */
  String describe();

  /** Opens file {@code name}; throws {@link java.io.FileNotFoundException} when absent. */
  InputStream open(String name) throws IOException;

  /** Names of every entry in the directory (files, directories, links). */
  List<String> list() throws IOException;

  /** The type of entry {@code name}. */
  EntryType type(String name) throws IOException;
}
