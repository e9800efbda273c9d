"""Tests for emodata.fer2013 on tiny fixtures in both real forms (csv and image folders)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emodata.errors import DataFormatError
from emodata.fer2013 import load_fer2013

# (emotion id, Usage, constant pixel value) per csv row; values are distinct per image.
CSV_ROWS = [
    (0, "Training", 10),
    (3, "Training", 40),
    (6, "PublicTest", 70),
    (4, "PrivateTest", 100),
    (5, "Training", 130),
]
# (top folder, class folder, file name, constant pixel value): the same images as CSV_ROWS.
TREE = [
    ("train", "angry", "Training_1.jpg", 10),
    ("train", "happy", "Training_2.jpg", 40),
    ("test", "neutral", "PublicTest_3.jpg", 70),
    ("test", "sad", "PrivateTest_4.jpg", 100),
    ("train", "surprise", "Training_5.jpg", 130),
]


def pixel_string(value: int, count: int = 2304) -> str:
    return " ".join([str(value)] * count)


def write_fer_csv(path: Path, rows: list[tuple[int, str, str]], header="emotion,pixels,Usage"):
    """Write a fer2013.csv with rows (emotion, pixels string, Usage)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f'{e},"{p}",{u}' for e, p, u in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_image_tree(root: Path, tree=TREE, suffix: str | None = None) -> Path:
    """Write constant-valued 48x48 grayscale images (JPEG unless `suffix` overrides)."""
    for top, cls, name, value in tree:
        folder = root / top / cls
        folder.mkdir(parents=True, exist_ok=True)
        if suffix:
            name = name.rsplit(".", 1)[0] + suffix
        Image.fromarray(np.full((48, 48), value, np.uint8)).save(folder / name)
    return root


@pytest.fixture
def csv_path(tmp_path):
    rows = [(e, pixel_string(v), u) for e, u, v in CSV_ROWS]
    return write_fer_csv(tmp_path / "data" / "fer2013.csv", rows)


def test_csv_loads_images_labels_and_splits(csv_path, tmp_path):
    data = load_fer2013(csv_path, cache_dir=tmp_path / "cache")
    assert data.images.shape == (5, 48, 48) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64
    np.testing.assert_array_equal(data.labels, [0, 3, 6, 4, 5])
    np.testing.assert_array_equal(data.images[:, 7, 7], [10, 40, 70, 100, 130])
    assert list(data.splits) == ["train", "train", "public_test", "private_test", "train"]
    assert data.sources[2] == "fer2013.csv:line 4"
    assert data.split_counts() == {"train": 3, "public_test": 1, "private_test": 1}
    assert data.class_counts()["neutral"] == 1 and data.class_counts()["disgust"] == 0


def test_folder_holding_the_csv_is_detected(csv_path, tmp_path):
    data = load_fer2013(tmp_path / "data", use_cache=False)
    assert len(data) == 5


def test_image_folders_load_with_fer7_labels(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    data = load_fer2013(root, use_cache=False, num_workers=2)
    expected = {  # source -> (FER7 label, split)
        "train/angry/Training_1.jpg": (0, "train"),
        "train/happy/Training_2.jpg": (3, "train"),
        "test/neutral/PublicTest_3.jpg": (6, "public_test"),
        "test/sad/PrivateTest_4.jpg": (4, "private_test"),
        "train/surprise/Training_5.jpg": (5, "train"),
    }
    assert sorted(data.sources) == sorted(expected)
    for i, source in enumerate(data.sources):
        assert (data.labels[i], data.splits[i]) == expected[source]
        value = next(v for top, cls, name, v in TREE if source == f"{top}/{cls}/{name}")
        # JPEG of a constant image decodes (almost) exactly.
        assert np.abs(data.images[i].astype(int) - value).max() <= 2


def test_csv_and_image_folders_round_trip_to_the_same_arrays(csv_path, tmp_path):
    from_csv = load_fer2013(csv_path, use_cache=False)
    from_png = load_fer2013(write_image_tree(tmp_path / "png", suffix=".png"), use_cache=False)
    a, b = np.argsort(from_csv.images[:, 0, 0]), np.argsort(from_png.images[:, 0, 0])
    np.testing.assert_array_equal(from_csv.images[a], from_png.images[b])
    np.testing.assert_array_equal(from_csv.labels[a], from_png.labels[b])
    np.testing.assert_array_equal(from_csv.splits[a], from_png.splits[b])


def test_split_selection(csv_path):
    assert len(load_fer2013(csv_path, split="public_test", use_cache=False)) == 1
    both = load_fer2013(csv_path, split=("train", "private_test"), use_cache=False)
    assert set(both.splits) == {"train", "private_test"} and len(both) == 4
    with pytest.raises(ValueError, match="split must be None or names out of"):
        load_fer2013(csv_path, split="validation", use_cache=False)


def test_cache_hit_and_invalidation(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    cache = tmp_path / "cache"
    first = load_fer2013(root, cache_dir=cache)
    second = load_fer2013(root, cache_dir=cache)
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.sources, second.sources)
    assert len(list(cache.glob("*.npz"))) == 1
    # A changed source file (new mtime) misses the cache.
    path = root / "train" / "angry" / "Training_1.jpg"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert not load_fer2013(root, cache_dir=cache).from_cache
    # A corrupt cache file is rebuilt, not trusted.
    for f in cache.glob("*.npz"):
        f.write_bytes(b"garbage")
    rebuilt = load_fer2013(root, cache_dir=cache)
    assert not rebuilt.from_cache and len(rebuilt) == 5


def test_cache_dir_inside_the_data_is_refused(csv_path):
    with pytest.raises(ValueError, match="cache_dir must lie outside the dataset folder"):
        load_fer2013(csv_path, cache_dir=csv_path.parent / "cache")


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="FER2013 path not found: .*nope"):
        load_fer2013(tmp_path / "nope")


def test_folder_without_any_known_form(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a csv file nor a folder"):
        load_fer2013(tmp_path)


def test_wrong_csv_columns(tmp_path):
    path = write_fer_csv(
        tmp_path / "f.csv", [(0, pixel_string(1), "Training")], header="emotion,pixels,Split"
    )
    with pytest.raises(DataFormatError, match=r"f\.csv: line 1: expected columns"):
        load_fer2013(path, use_cache=False)


@pytest.mark.parametrize(
    "row, message",
    [
        ((0, pixel_string(1, 2303), "Training"), "pixels has 2303 values; expected 2304"),
        ((0, pixel_string(1, 2303) + " x", "Training"), "pixels holds a non-integer value 'x'"),
        ((0, pixel_string(1, 2303) + " 256", "Training"), r"pixels must lie in \[0, 255\]"),
        ((7, pixel_string(1), "Training"), r"emotion must be an integer in \[0, 7\); got '7'"),
        ((0, pixel_string(1), "Validation"), "Usage must be one of"),
    ],
)
def test_bad_csv_row_names_file_and_line(tmp_path, row, message):
    path = write_fer_csv(tmp_path / "fer2013.csv", [(0, pixel_string(5), "Training"), row])
    with pytest.raises(DataFormatError, match=r"fer2013\.csv: line 3: " + message):
        load_fer2013(path, use_cache=False)


def test_bad_csv_rows_skipped_only_on_request(tmp_path, caplog):
    rows = [
        (0, pixel_string(5), "Training"),
        (1, pixel_string(5, 10), "Training"),
        (2, pixel_string(9), "PublicTest"),
    ]
    path = write_fer_csv(tmp_path / "fer2013.csv", rows)
    with caplog.at_level(logging.WARNING):
        data = load_fer2013(path, use_cache=False, on_bad_row="skip")
    assert data.skipped == 1 and len(data) == 2
    np.testing.assert_array_equal(data.labels, [0, 2])
    assert "skipped 1 bad row" in caplog.text and "line 3" in caplog.text
    with pytest.raises(ValueError, match="on_bad_row must be one of"):
        load_fer2013(path, on_bad_row="ignore")


def test_unreadable_image_names_the_file(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    (root / "train" / "happy" / "Training_9.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataFormatError, match=r"happy/Training_9\.jpg: unreadable image"):
        load_fer2013(root, use_cache=False)


def test_unknown_class_folder(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    write_image_tree(root, [("train", "contempt", "Training_7.jpg", 3)])
    with pytest.raises(DataFormatError, match="unknown class folder 'contempt'"):
        load_fer2013(root, use_cache=False)


def test_wrong_image_size_and_prefix(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "test" / "sad" / "PublicTest_8.jpg")
    with pytest.raises(DataFormatError, match=r"PublicTest_8\.jpg: image is 64x64; expected 48x48"):
        load_fer2013(root, use_cache=False)
    (root / "test" / "sad" / "PublicTest_8.jpg").unlink()
    write_image_tree(root, [("train", "fear", "PublicTest_9.jpg", 3)])
    with pytest.raises(DataFormatError, match="prefix 'PublicTest' is not allowed under train/"):
        load_fer2013(root, use_cache=False)


def test_bad_images_skipped_with_count_and_colour_converted(tmp_path):
    root = write_image_tree(tmp_path / "fer")
    (root / "train" / "happy" / "Training_9.jpg").write_bytes(b"junk")
    rgb = np.zeros((48, 48, 3), np.uint8)
    rgb[..., 1] = 200
    write_image_tree(root, [("train", "fear", "Training_0.jpg", 0)])  # creates the folder
    Image.fromarray(rgb).save(root / "train" / "fear" / "Training_10.png")
    data = load_fer2013(root, on_bad_row="skip", cache_dir=tmp_path / "cache")
    assert data.skipped == 1 and len(data) == 7
    green = data.images[list(data.sources).index("train/fear/Training_10.png")]
    assert abs(int(green[0, 0]) - round(0.587 * 200)) <= 1  # ITU-R 601 luma
    # The skip count survives the cache.
    assert load_fer2013(root, on_bad_row="skip", cache_dir=tmp_path / "cache").skipped == 1
