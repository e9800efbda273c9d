"""Tests for emodata.wesad on tiny per-subject feature CSVs in the real format."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from emodata.errors import DataFormatError
from emodata.wesad import WESAD_FEATURE_COLUMNS, load_wesad_features

F = len(WESAD_FEATURE_COLUMNS)


def write_subject(
    root: Path,
    subject: int,
    labels: list[int],
    columns: tuple[str, ...] = WESAD_FEATURE_COLUMNS,
    cells: dict[tuple[int, int], str] | None = None,
) -> Path:
    """Write `S<subject>_feats_4.csv`: index column, features = subject*100 + row + col/100,
    one-hot label columns 0,1,2. `cells` overrides raw cell text at (row, column)."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [",".join(["", *columns, "0", "1", "2"])]
    for r, label in enumerate(labels):
        values = [f"{subject * 100 + r + c / 100}" for c in range(len(columns))]
        onehot = ["1" if k == label else "0" for k in range(3)]
        row = ["0", *values, *onehot]
        for (rr, cc), text in (cells or {}).items():
            if rr == r:
                row[cc] = text
        lines.append(",".join(row))
    path = root / f"S{subject}_feats_4.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wesad_feature_columns_match_the_real_header():
    assert F == 46
    assert WESAD_FEATURE_COLUMNS[:2] == ("net_acc_mean", "net_acc_std")
    assert WESAD_FEATURE_COLUMNS[-2:] == ("BVP_peak_freq", "TEMP_slope")


def test_loads_subjects_in_order(tmp_path):
    write_subject(tmp_path, 10, [2, 2])
    write_subject(tmp_path, 2, [1, 0, 2])
    data = load_wesad_features(tmp_path)
    assert data.features.shape == (5, F) and data.features.dtype == np.float32
    np.testing.assert_array_equal(data.labels, [1, 0, 2, 2, 2])
    assert data.labels.dtype == np.int64
    np.testing.assert_array_equal(data.subject_ids, [2, 2, 2, 10, 10])
    assert data.subjects == (2, 10)
    assert data.feature_names == WESAD_FEATURE_COLUMNS
    np.testing.assert_allclose(data.features[1, :3], [201.0, 201.01, 201.02])
    np.testing.assert_allclose(data.features[3, 0], 1000.0)
    assert data.label_counts() == {"amusement": 1, "baseline": 1, "stress": 3}


def test_subject_selection(tmp_path):
    write_subject(tmp_path, 3, [0])
    write_subject(tmp_path, 4, [1])
    assert load_wesad_features(tmp_path, subjects=[4]).subjects == (4,)
    message = r"subjects \[5\] have no .*available subjects: \[3, 4\]"
    with pytest.raises(FileNotFoundError, match=message):
        load_wesad_features(tmp_path, subjects=[4, 5])


def test_missing_root_and_no_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="WESAD feature folder not found"):
        load_wesad_features(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no files matching"):
        load_wesad_features(tmp_path)


def test_wrong_feature_columns(tmp_path):
    write_subject(tmp_path, 2, [0], columns=WESAD_FEATURE_COLUMNS[:-1])
    message = r"S2_feats_4\.csv: line 1: .*missing \['TEMP_slope'\]"
    with pytest.raises(DataFormatError, match=message):
        load_wesad_features(tmp_path)


def test_files_must_share_columns_when_none_are_expected(tmp_path):
    write_subject(tmp_path, 2, [0], columns=("a", "b"))
    write_subject(tmp_path, 3, [0], columns=("a", "c"))
    message = r"S3_feats_4\.csv: .*missing \['b'\], unexpected \['c'\]"
    with pytest.raises(DataFormatError, match=message):
        load_wesad_features(tmp_path, feature_names=None)
    (tmp_path / "S3_feats_4.csv").unlink()
    assert load_wesad_features(tmp_path, feature_names=None).feature_names == ("a", "b")


def test_label_columns_required(tmp_path):
    path = write_subject(tmp_path, 2, [0])
    text = path.read_text().splitlines()
    text[0] = text[0].rsplit(",", 3)[0] + ",amusement,baseline,stress"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(DataFormatError, match=r"line 1: .*label columns \['0', '1', '2'\]"):
        load_wesad_features(tmp_path)


@pytest.mark.parametrize(
    "cells, message",
    [
        ({(1, 5): "nan"}, "line 3: non-finite value 'nan' in column 5"),
        ({(1, 9): "-inf"}, "line 3: non-finite value '-inf' in column 9"),
        ({(1, 5): "abc"}, "line 3: non-numeric value"),
        ({(1, F + 1): "1", (1, F + 2): "1"}, r"line 3: label columns .* must be one-hot"),
        ({(1, F + 1): "0.5"}, "line 3: label columns .* must be one-hot"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path, cells, message):
    write_subject(tmp_path, 7, [0, 1, 2], cells=cells)
    with pytest.raises(DataFormatError, match=r"S7_feats_4\.csv: " + message):
        load_wesad_features(tmp_path)


def test_wrong_field_count(tmp_path):
    path = write_subject(tmp_path, 7, [0, 1])
    path.write_text(path.read_text() + "0,1,2\n")
    message = r"S7_feats_4\.csv: line 4: expected 50 fields as in the header; got 3"
    with pytest.raises(DataFormatError, match=message):
        load_wesad_features(tmp_path)


def test_bad_rows_skipped_only_on_request(tmp_path, caplog):
    write_subject(tmp_path, 7, [0, 1, 2], cells={(0, 3): "inf"})
    write_subject(tmp_path, 8, [1], cells={(0, 4): "nan"})
    write_subject(tmp_path, 9, [2])
    with caplog.at_level(logging.WARNING):
        data = load_wesad_features(tmp_path, on_bad_row="skip")
    assert data.skipped == 2 and len(data) == 3
    np.testing.assert_array_equal(data.subject_ids, [7, 7, 9])
    assert "skipped 2 bad row" in caplog.text
    with pytest.raises(ValueError, match="on_bad_row must be one of"):
        load_wesad_features(tmp_path, on_bad_row="drop")
