"""FER2013 facial expressions, from either real form, as `images: uint8[N,48,48]` + FER7 labels.

Forms (detected from `path` by `load_fer2013`):
- csv: a `fer2013.csv` file (or a folder holding one) with columns `emotion,pixels,Usage`;
  `pixels` = 2304 space-separated integers in [0, 255], `emotion` in [0, 6] (FER7 order),
  `Usage` in Training / PublicTest / PrivateTest.
- image folders: `{train,test}/<class>/*.jpg`, class folders named after FER7 classes
  (angry, disgust, fear, happy, neutral, sad, surprise); file names start with
  `Training_`, `PublicTest_` or `PrivateTest_`, which give the split (`Training_` only under
  `train/`, the two test prefixes only under `test/`). Images must be 48x48; colour images
  are converted to grayscale. Hidden files (`.name`) are ignored.

Splits are named 'train', 'public_test' (the canonical validation split) and 'private_test'
(the canonical final test split). Bad rows/files (malformed csv row, wrong pixel count,
unreadable image, wrong size or prefix) raise `DataFormatError` naming the file and line,
unless `on_bad_row='skip'`, which skips them, logs the count and returns it in `skipped`.
Structural problems (missing path, wrong csv header, unknown class folder) always raise.

Loads are cached as `.npz` in `cache_dir` (default `~/.cache/fedmultiemo`), keyed by a hash
of the form, the bad-row policy and every source file's relative path, size and mtime, so a
changed, added or removed file invalidates the cache. The cache never lives inside the data.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import hashlib
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from emocore.label_spaces import FER7
from emodata.errors import (
    BadRowPolicy,
    DataFormatError,
    check_on_bad_row,
    log_skipped,
    require_exists,
)

logger = logging.getLogger(__name__)

IMAGE_SIZE = 48
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
SPLITS: tuple[str, ...] = ("train", "public_test", "private_test")
CSV_COLUMNS: tuple[str, ...] = ("emotion", "pixels", "Usage")
CSV_FILENAME = "fer2013.csv"
DEFAULT_CACHE_DIR = Path("~/.cache/fedmultiemo")

_USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "private_test"}
# Image-folder edition: top-level folder -> file prefix -> split.
_FOLDER_PREFIXES = {
    "train": {"Training": "train"},
    "test": {"PublicTest": "public_test", "PrivateTest": "private_test"},
}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CACHE_FORMAT_VERSION = 1
_CHUNK = 512


@dataclasses.dataclass(frozen=True)
class Fer2013:
    """FER2013 examples: `images: uint8[N,48,48]`, `labels: int64[N]` (FER7 order),
    `splits: str[N]` (one of `SPLITS`), `sources: str[N]` (file path or `csv:line` per row).

    `skipped` counts bad rows/files skipped under `on_bad_row='skip'`; `from_cache` tells
    whether the arrays came from the `.npz` cache.
    """

    images: np.ndarray
    labels: np.ndarray
    splits: np.ndarray
    sources: np.ndarray
    skipped: int = 0
    from_cache: bool = False

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.images.shape != (n, IMAGE_SIZE, IMAGE_SIZE) or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8[{n},{IMAGE_SIZE},{IMAGE_SIZE}]; got "
                f"{self.images.dtype}{list(self.images.shape)}"
            )
        if self.labels.dtype != np.int64 or len(self.splits) != n or len(self.sources) != n:
            raise ValueError(
                f"labels must be int64[N] with splits and sources of length N={n}; got "
                f"labels {self.labels.dtype}, {len(self.splits)} splits, "
                f"{len(self.sources)} sources"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, *names: str) -> Fer2013:
        """The examples of the named split(s), e.g. `data.split('train')`."""
        for name in names:
            if name not in SPLITS:
                raise ValueError(f"split must be one of {list(SPLITS)}; got {name!r}")
        if not names:
            raise ValueError(f"split needs at least one split name out of {list(SPLITS)}")
        keep = np.isin(self.splits, names)
        return dataclasses.replace(
            self,
            images=self.images[keep],
            labels=self.labels[keep],
            splits=self.splits[keep],
            sources=self.sources[keep],
        )

    def class_counts(self) -> dict[str, int]:
        """Number of examples per FER7 class name (all classes listed, in FER7 order)."""
        counts = np.bincount(self.labels, minlength=FER7.num_classes)
        return {name: int(c) for name, c in zip(FER7.labels, counts, strict=True)}

    def split_counts(self) -> dict[str, int]:
        """Number of examples per split name (all of `SPLITS` listed)."""
        return {name: int(np.count_nonzero(self.splits == name)) for name in SPLITS}


def load_fer2013(
    path: str | os.PathLike[str],
    *,
    split: str | Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    on_bad_row: BadRowPolicy = "error",
    num_workers: int | None = None,
) -> Fer2013:
    """Load FER2013 from `fer2013.csv` or the `{train,test}/<class>/*.jpg` folders.

    Args:
      path: the csv file, a folder holding `fer2013.csv`, or the image-folder root.
      split: None for all splits, or one/several of `SPLITS`.
      cache_dir: where the `.npz` cache lives (default `~/.cache/fedmultiemo`); it must not
        lie inside the dataset folder.
      use_cache: read and write the cache; False always parses the source.
      on_bad_row: 'error' raises on the first bad row/file; 'skip' skips and counts them.
      num_workers: image-decoding threads (default: 2 x CPU count, at most 8).

    Returns:
      `Fer2013` with `images: uint8[N,48,48]`, `labels: int64[N]` in FER7 order.
    """
    check_on_bad_row(on_bad_row)
    names = _check_split_arg(split)
    if num_workers is not None and num_workers < 1:
        raise ValueError(f"num_workers must be >= 1 or None; got {num_workers}")
    source = Path(path)
    require_exists(source, "FER2013 path")
    form, files, root = _discover(source)
    data: Fer2013 | None = None
    cache_file: Path | None = None
    if use_cache:
        cache_file = _cache_file(form, files, root, on_bad_row, cache_dir)
        data = _read_cache(cache_file)
    if data is None:
        if form == "csv":
            data = _parse_csv(files[0], on_bad_row)
        else:
            data = _decode_folder(files, root, on_bad_row, num_workers)
        if cache_file is not None:
            _write_cache(cache_file, data)
    return data.split(*names) if names else data


def _check_split_arg(split: str | Sequence[str] | None) -> tuple[str, ...]:
    if split is None:
        return ()
    names = (split,) if isinstance(split, str) else tuple(split)
    bad = [s for s in names if s not in SPLITS]
    if bad or not names:
        raise ValueError(f"split must be None or names out of {list(SPLITS)}; got {split!r}")
    return names


def _discover(source: Path) -> tuple[str, list[Path], Path]:
    """(form, sorted source files, root) for a csv file, a folder with it, or image folders."""
    if source.is_file():
        return "csv", [source], source.parent
    split_dirs = [source / d for d in _FOLDER_PREFIXES if (source / d).is_dir()]
    if split_dirs:
        return "folder", _list_image_files(source, split_dirs), source
    if (source / CSV_FILENAME).is_file():
        return "csv", [source / CSV_FILENAME], source
    raise FileNotFoundError(
        f"FER2013 path {str(source)!r} is neither a csv file nor a folder holding "
        f"{CSV_FILENAME!r} or image folders {sorted(_FOLDER_PREFIXES)}"
    )


def _list_image_files(root: Path, split_dirs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for split_dir in split_dirs:
        for class_dir in sorted(split_dir.iterdir()):
            if class_dir.name.startswith("."):
                continue
            if not class_dir.is_dir() or class_dir.name not in FER7.labels:
                raise DataFormatError(
                    f"{class_dir}: unknown class folder {class_dir.name!r}; expected folders "
                    f"named {sorted(FER7.labels)}"
                )
            files.extend(p for p in sorted(class_dir.iterdir()) if not p.name.startswith("."))
    if not files:
        raise DataFormatError(f"{root}: no image files under {[d.name for d in split_dirs]}")
    return files


# ----------------------------------------------------------------------------- csv form


def _parse_csv(path: Path, on_bad_row: BadRowPolicy) -> Fer2013:
    images: list[np.ndarray] = []
    labels: list[int] = []
    splits: list[str] = []
    sources: list[str] = []
    skipped, first_problem = 0, None
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or sorted(h.strip() for h in header) != sorted(CSV_COLUMNS):
            raise DataFormatError(
                f"{path}: line 1: expected columns {list(CSV_COLUMNS)} (any order); got {header}"
            )
        col = {h.strip(): i for i, h in enumerate(header)}
        for row in reader:
            problem, parsed = _parse_csv_row(row, col)
            if problem is None:
                label, pixels, split_name = parsed
                images.append(pixels)
                labels.append(label)
                splits.append(split_name)
                sources.append(f"{path.name}:line {reader.line_num}")
                continue
            message = f"{path}: line {reader.line_num}: {problem}"
            if on_bad_row == "error":
                raise DataFormatError(message)
            skipped += 1
            first_problem = first_problem or message
    log_skipped(logger, str(path), skipped, first_problem)
    if not labels:
        raise DataFormatError(f"{path}: no valid rows (skipped {skipped})")
    return Fer2013(
        images=np.stack(images).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        labels=np.asarray(labels, dtype=np.int64),
        splits=np.asarray(splits),
        sources=np.asarray(sources),
        skipped=skipped,
    )


def _parse_csv_row(
    row: list[str], col: dict[str, int]
) -> tuple[str | None, tuple[int, np.ndarray, str]]:
    """(problem or None, (label, uint8[2304] pixels, split)) for one csv row."""
    failed: tuple[int, np.ndarray, str] = (0, np.empty(0, np.uint8), "")
    if len(row) != len(CSV_COLUMNS):
        return f"expected {len(CSV_COLUMNS)} fields; got {len(row)}", failed
    emotion, usage, pixels = row[col["emotion"]], row[col["Usage"]], row[col["pixels"]]
    try:
        label = int(emotion)
    except ValueError:
        label = -1
    if not 0 <= label < FER7.num_classes:
        return f"emotion must be an integer in [0, {FER7.num_classes}); got {emotion!r}", failed
    if usage not in _USAGE_TO_SPLIT:
        return f"Usage must be one of {sorted(_USAGE_TO_SPLIT)}; got {usage!r}", failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        values = np.fromstring(pixels, dtype=np.int64, sep=" ")  # fast; stops at a bad token
    if values.size != NUM_PIXELS:
        tokens = pixels.split()
        if len(tokens) != NUM_PIXELS:
            return f"pixels has {len(tokens)} values; expected {NUM_PIXELS}", failed
        bad = next(t for t in tokens if not t.lstrip("+-").isdigit())
        return f"pixels holds a non-integer value {bad!r}", failed
    if values.min() < 0 or values.max() > 255:
        return f"pixels must lie in [0, 255]; got [{values.min()}, {values.max()}]", failed
    return None, (label, values.astype(np.uint8), _USAGE_TO_SPLIT[usage])


# -------------------------------------------------------------------- image-folder form


def _decode_folder(
    files: list[Path], root: Path, on_bad_row: BadRowPolicy, num_workers: int | None
) -> Fer2013:
    n = len(files)
    labels = np.empty(n, dtype=np.int64)
    splits = np.empty(n, dtype=f"<U{max(len(s) for s in SPLITS)}")
    problems: list[str | None] = [None] * n
    for i, p in enumerate(files):
        label, split_name, problem = _label_from_path(p)
        labels[i], splits[i], problems[i] = label, split_name, problem
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)

    def decode_chunk(start: int) -> None:
        for i in range(start, min(start + _CHUNK, n)):
            if problems[i] is None:
                problems[i] = _decode_image(files[i], images[i])

    workers = num_workers or min(8, 2 * (os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(decode_chunk, s) for s in range(0, n, _CHUNK)]:
            future.result()
    bad = [i for i, p in enumerate(problems) if p is not None]
    if bad and on_bad_row == "error":
        raise DataFormatError(f"{files[bad[0]]}: {problems[bad[0]]}")
    keep = np.ones(n, dtype=bool)
    keep[bad] = False
    first = f"{files[bad[0]]}: {problems[bad[0]]}" if bad else None
    log_skipped(logger, str(root), len(bad), first)
    if not keep.any():
        raise DataFormatError(f"{root}: no valid images (skipped {len(bad)})")
    sources = np.asarray([p.relative_to(root).as_posix() for p in files])
    return Fer2013(
        images=images[keep],
        labels=labels[keep],
        splits=splits[keep],
        sources=sources[keep],
        skipped=len(bad),
    )


def _label_from_path(path: Path) -> tuple[int, str, str | None]:
    """(FER7 label, split, problem or None) from `<split dir>/<class>/<Prefix>_*.jpg`."""
    label = FER7.index(path.parent.name)  # class folders were validated by the listing
    prefixes = _FOLDER_PREFIXES[path.parent.parent.name]
    if path.is_dir() or path.suffix.lower() not in _IMAGE_SUFFIXES:
        return label, "", f"not an image file; expected one of {list(_IMAGE_SUFFIXES)}"
    prefix = path.name.split("_", 1)[0]
    if prefix not in prefixes:
        return (
            label,
            "",
            f"file name prefix {prefix!r} is not allowed under "
            f"{path.parent.parent.name}/; expected one of {sorted(prefixes)}",
        )
    return label, prefixes[prefix], None


def _decode_image(path: Path, out: np.ndarray) -> str | None:
    """Decode a 48x48 image into `out: uint8[48,48]`; return a problem string on failure."""
    try:
        with Image.open(path) as image:
            if image.size != (IMAGE_SIZE, IMAGE_SIZE):
                return f"image is {image.size[0]}x{image.size[1]}; expected 48x48"
            if image.mode != "L":
                image.draft("L", image.size)  # JPEG: decode straight to grayscale
                out[...] = np.asarray(image.convert("L"), dtype=np.uint8)
            else:
                out[...] = np.asarray(image, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for corrupt files
        return f"unreadable image ({type(e).__name__}: {e})"
    return None


# -------------------------------------------------------------------------------- cache


def _cache_file(
    form: str,
    files: list[Path],
    root: Path,
    on_bad_row: str,
    cache_dir: str | os.PathLike[str] | None,
) -> Path:
    directory = Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()
    data_dir = root.resolve()
    resolved = directory.resolve()
    if resolved == data_dir or data_dir in resolved.parents:
        raise ValueError(
            f"cache_dir must lie outside the dataset folder {str(data_dir)!r}; got "
            f"{str(directory)!r}"
        )
    digest = hashlib.sha256(f"v{_CACHE_FORMAT_VERSION}|{form}|{on_bad_row}".encode())
    for p in files:
        st = p.stat()
        digest.update(f"|{p.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}".encode())
    return directory / f"fer2013_{form}_{digest.hexdigest()[:24]}.npz"


def _read_cache(cache_file: Path) -> Fer2013 | None:
    if not cache_file.is_file():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as z:
            return Fer2013(
                images=z["images"],
                labels=z["labels"],
                splits=z["splits"],
                sources=z["sources"],
                skipped=int(z["skipped"]),
                from_cache=True,
            )
    except (OSError, ValueError, KeyError) as e:
        logger.warning("ignoring unreadable FER2013 cache %s (%s); rebuilding", cache_file, e)
        return None


def _write_cache(cache_file: Path, data: Fer2013) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".fer2013_", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                images=data.images,
                labels=data.labels,
                splits=data.splits,
                sources=data.sources,
                skipped=np.int64(data.skipped),
            )
        os.replace(tmp, cache_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("cached FER2013 (%d images) at %s", len(data), cache_file)


def fer2013_path(data_root: str) -> Path:
    """`<data_root>/fer2013` (image folders) or `<data_root>/fer2013.csv`, whichever exists."""
    root = Path(data_root)
    for candidate in (root / "fer2013", root / "fer2013.csv", root):
        if candidate.exists() and (candidate.is_dir() or candidate.suffix == ".csv"):
            return candidate
    raise FileNotFoundError(f"data.data_root: no FER2013 under {str(root)!r} (expected "
                            "fer2013/ image folders or fer2013.csv)")
