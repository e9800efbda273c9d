"""Tests for emodata.drivedb: header-driven reading, bad rows, merging, marker labelling."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from emodata.drivedb import (
    Drive,
    detect_marker_pulses,
    format_segment_summary,
    label_drive,
    load_drivedb,
    merge_recordings,
    read_drive,
    sample_labels,
)
from emodata.errors import DataFormatError

RATE_HZ = 2.0  # the loader reads the rate from the time column; 2 Hz keeps fixtures small
# Protocol boundaries (min): rest 15, city 14.5, hwy 7.5, city 6.5, hwy 7.5, city 12, rest 15.
BOUNDARIES_MIN = (1.0, 16.0, 30.5, 38.0, 44.5, 52.0, 64.0, 79.0)
PULSE_S = 1.5


def marker_signal(
    t: np.ndarray, pulses_min=BOUNDARIES_MIN, extra_min=(), height=40.0
) -> np.ndarray:
    """Synthetic marker: 10 mV baseline, a level step at 25 min, small noise, pulses."""
    rng = np.random.default_rng(0)
    marker = 10.0 + 0.2 * rng.standard_normal(len(t))
    marker[t >= 25 * 60] += 4.0  # baseline step, not a pulse
    marker[rng.integers(0, len(t), 20)] += 1.0  # small spikes below the threshold
    for m in (*pulses_min, *extra_min):
        marker[(t >= m * 60) & (t < m * 60 + PULSE_S)] += height
    return marker


def write_drive(path: Path, columns: dict[str, np.ndarray], fmt: str = "%.3f") -> Path:
    """Write a drivedb csv with the given header -> column arrays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.column_stack(list(columns.values()))
    np.savetxt(path, data, delimiter=",", fmt=fmt, header=",".join(columns), comments="")
    return path


def protocol_columns(minutes: float = 81.0, **marker_kwargs) -> dict[str, np.ndarray]:
    t = np.arange(0, minutes * 60, 1 / RATE_HZ)
    return {
        "Elapsed time(s)": t,
        "ECG(mV)": np.sin(t),
        "marker(mV)": marker_signal(t, **marker_kwargs),
        "HR(bpm)": np.full(len(t), 80.0),
    }


def small_columns(n: int = 6) -> dict[str, np.ndarray]:
    t = np.arange(n) / 15.5
    return {"Elapsed time(s)": t, "ECG(mV)": t * 2, "marker(mV)": t + 10}


def edit_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------ reading


def test_read_drive_is_header_driven(tmp_path):
    cols = {
        "Elapsed time(s)": np.arange(4) * 0.065,
        "RESP(mV)": np.arange(4.0),
        "foot GSR(mV)": np.ones(4),
        "peak": np.zeros(4),
    }
    drive = read_drive(write_drive(tmp_path / "drive02.csv", cols))
    assert drive.name == "drive02"
    assert set(drive.channels) == {"resp", "foot_gsr"}
    assert drive.channels["resp"].dtype == np.float32
    np.testing.assert_allclose(drive.channels["resp"], [0, 1, 2, 3])
    assert drive.time_s.dtype == np.float64
    assert drive.ignored_columns == ("peak",)
    assert drive.sample_rate_hz == pytest.approx(1 / 0.065)


def test_ignored_column_may_hold_empty_cells(tmp_path):
    path = write_drive(tmp_path / "drive02.csv", {**small_columns(), "peak": np.zeros(6)})
    edit_line(path, 4, path.read_text().splitlines()[3].rsplit(",", 1)[0] + ",")
    assert len(read_drive(path).time_s) == 6


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="drivedb file not found: .*drive99"):
        read_drive("/nonexistent/drive99.csv")


def test_wrong_first_column(tmp_path):
    path = write_drive(tmp_path / "drive05.csv", {"time": np.arange(3.0), "ECG(mV)": np.zeros(3)})
    with pytest.raises(DataFormatError, match=r"drive05\.csv: line 1: first column must be"):
        read_drive(path)


def test_no_known_channel_and_duplicate_columns(tmp_path):
    path = write_drive(tmp_path / "d.csv", {"Elapsed time(s)": np.arange(3.0), "X": np.zeros(3)})
    with pytest.raises(DataFormatError, match=r"d\.csv: line 1: no known channel column"):
        read_drive(path)
    path.write_text("Elapsed time(s),ECG(mV),ECG(mV)\n0,1,2\n")
    with pytest.raises(DataFormatError, match=r"duplicate columns \['ECG\(mV\)'\]"):
        read_drive(path)


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("0.2,,10.2", r"line 4: column 'ECG\(mV\)' \(column 2 of 3\) holds a non-numeric "
                      "value ''"),
        ("0.2,abc,10.2", r"line 4: column 'ECG\(mV\)' \(column 2 of 3\) holds a non-numeric "
                         "value 'abc'"),
        ("0.2,nan,10.2", r"line 4: column 'ECG\(mV\)' \(column 2 of 3\) holds a non-finite "
                         "value nan"),
        ("0.2,1.0,inf", r"line 4: column 'marker\(mV\)' \(column 3 of 3\) holds a non-finite "
                        "value inf"),
        ("0.2,1.0", "line 4: expected 3 fields as in the header; got 2"),
    ],
)
def test_bad_row_names_file_line_and_column(tmp_path, bad_line, message):
    path = write_drive(tmp_path / "drive07.csv", small_columns())
    edit_line(path, 4, bad_line)
    with pytest.raises(DataFormatError, match=r"drive07\.csv: " + message):
        read_drive(path)


@pytest.mark.parametrize("fast_path", [True, False])
def test_bad_value_names_the_header_column_and_the_file_line(tmp_path, fast_path):
    """Both parsers (numpy's for well-formed files, csv's otherwise) name the header column
    and the 1-based line of the file (the header is line 1), with unused columns in between."""
    columns = {**small_columns(8), "peak": np.zeros(8), "HR(bpm)": np.full(8, 70.0)}
    path = write_drive(tmp_path / "drive07.csv", columns)
    lines = path.read_text().splitlines()
    lines[6] = lines[6].rsplit(",", 1)[0] + ",nan"  # line 7 of the file: HR is NaN
    if not fast_path:
        lines.append("")  # a blank line sends the file to the line-by-line parser
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"drive07\.csv: line 7: column 'HR\(bpm\)' "
                                              r"\(column 5 of 5\) holds a non-finite value nan"):
        read_drive(path)
    drive = read_drive(path, on_bad_row="skip")
    assert drive.skipped == 1 and len(drive.time_s) == 7


def test_time_must_increase(tmp_path):
    path = write_drive(tmp_path / "drive07.csv", small_columns())
    edit_line(path, 5, "0.0,1,1")
    with pytest.raises(DataFormatError, match=r"line 5: Elapsed time\(s\) must increase"):
        read_drive(path)


def test_bad_rows_skipped_only_on_request(tmp_path, caplog):
    path = write_drive(tmp_path / "drive07.csv", small_columns())
    edit_line(path, 3, "0.1,nan,10")
    edit_line(path, 5, "0.2,,10")
    with caplog.at_level(logging.WARNING):
        drive = read_drive(path, on_bad_row="skip")
    assert drive.skipped == 2 and len(drive.time_s) == 4
    assert "skipped 2 bad row" in caplog.text
    with pytest.raises(ValueError, match="on_bad_row must be one of"):
        read_drive(path, on_bad_row="warn")


def test_load_drivedb_merges_the_shared_recording(tmp_path):
    cols = small_columns()
    write_drive(tmp_path / "drive13.csv", {**cols, "HR(bpm)": np.full(6, 70.0)})
    write_drive(tmp_path / "drive14.csv", {**cols, "hand GSR(mV)": np.full(6, 2.0)})
    write_drive(tmp_path / "drive05.csv", cols)
    (tmp_path / "notes.txt").write_text("not a drive")
    drives = load_drivedb(tmp_path)
    assert list(drives) == ["drive05", "drive13_14"]
    merged = drives["drive13_14"]
    assert set(merged.channels) == {"ecg", "marker", "hr", "hand_gsr"}
    assert [Path(f).name for f in merged.source_files] == ["drive13.csv", "drive14.csv"]


def test_merge_refuses_different_recordings(tmp_path):
    a = read_drive(write_drive(tmp_path / "drive13.csv", small_columns()))
    other = {**small_columns(), "ECG(mV)": np.zeros(6)}
    b = read_drive(write_drive(tmp_path / "drive14.csv", other))
    with pytest.raises(ValueError, match=r"shared channels \['ecg'\] differ"):
        merge_recordings(a, b, "drive13_14")


def test_load_drivedb_missing_or_empty_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="drivedb folder not found"):
        load_drivedb(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no files matching"):
        load_drivedb(tmp_path)


# ---------------------------------------------------------------------------- labelling


def test_pulses_survive_baseline_step_and_double_press():
    t = np.arange(0, 40 * 60, 1 / RATE_HZ)
    marker = marker_signal(t, pulses_min=(1.0, 16.0, 16.5, 30.5))
    pulses = detect_marker_pulses(t, marker)
    assert [round(p.start_s / 60, 2) for p in pulses] == [1.0, 16.0, 30.5]
    assert pulses[1].end_s == pytest.approx(16.5 * 60 + PULSE_S - 1 / RATE_HZ)
    assert all(p.height_mv > 30 for p in pulses)
    # Without merging, the double press shows as two pulses.
    assert len(detect_marker_pulses(t, marker, merge_gap_s=5.0)) == 4


def test_detector_arguments_are_validated():
    t = np.arange(10.0)
    with pytest.raises(ValueError, match="merge_gap_s must be > 0; got 0"):
        detect_marker_pulses(t, t, merge_gap_s=0)
    with pytest.raises(ValueError, match="must be 1-D of equal length"):
        detect_marker_pulses(t, t[:5])


def test_protocol_segments_with_extra_toll_pulse(tmp_path):
    cols = protocol_columns(extra_min=(16.4, 55.0))  # double press + toll-booth press
    drive = read_drive(write_drive(tmp_path / "drive05.csv", cols))
    labels = label_drive(drive)
    assert labels.usable, labels.excluded_reason
    assert [s.name for s in labels.segments] == [
        "rest1",
        "city1",
        "highway1",
        "city2",
        "highway2",
        "city3",
        "rest2",
    ]
    assert [s.label for s in labels.segments] == [0, 2, 1, 2, 1, 2, 0]
    assert [s.level for s in labels.segments][:3] == ["low", "high", "medium"]
    starts = [s.start_s / 60 for s in labels.segments]
    ends = [s.end_s / 60 for s in labels.segments]
    np.testing.assert_allclose(starts, BOUNDARIES_MIN[:-1], atol=0.5)  # start after pulse end
    np.testing.assert_allclose(ends, BOUNDARIES_MIN[1:], atol=1e-6)
    assert labels.segments[1].start_s == pytest.approx(16.4 * 60 + PULSE_S - 1 / RATE_HZ)
    assert [round(p.start_s / 60, 1) for p in labels.dropped_pulses] == [55.0]
    assert labels.as_tuples()[0] == (0, labels.segments[0].start_s, 16.0 * 60)
    minutes = {k: v / 60 for k, v in labels.seconds_per_level().items()}
    assert minutes["medium"] == pytest.approx(15.0, abs=0.2)
    assert minutes["low"] == pytest.approx(30.0, abs=0.2)


def test_sample_labels():
    labels = label_drive(Drive("d", *_protocol_time_and_channels(), source_files=()))
    t = np.array([0.0, 10 * 60, 20 * 60, 35 * 60, 80 * 60])
    np.testing.assert_array_equal(sample_labels(t, labels.segments), [-1, 0, 2, 1, -1])


def _protocol_time_and_channels():
    cols = protocol_columns()
    return cols["Elapsed time(s)"], {"marker": cols["marker(mV)"]}


def test_drive_without_marker_or_enough_pulses_is_excluded():
    t, channels = _protocol_time_and_channels()
    no_marker = label_drive(Drive("drive01", t, {"ecg": channels["marker"]}, ()))
    assert not no_marker.usable and no_marker.excluded_reason == "no marker column"
    marker = marker_signal(t, pulses_min=BOUNDARIES_MIN[:5])
    few = label_drive(Drive("drive16", t, {"marker": marker}, ()))
    assert not few.usable and few.segments == ()
    assert "5 marker pulse(s) found, at [1.0, 16.0, 30.5, 38.0, 44.5] min" in few.excluded_reason
    assert "the protocol needs 8" in few.excluded_reason


def test_implausible_durations_exclude_the_drive():
    t, _ = _protocol_time_and_channels()
    late_end = (*BOUNDARIES_MIN[:-1], 66.0)  # final rest of 2 min
    labels = label_drive(Drive("drive09", t, {"marker": marker_signal(t, late_end)}, ()))
    assert not labels.usable
    assert labels.excluded_reason.startswith("rest2 lasts 2.0 min, outside the plausible 10-20")


def test_summary_lists_durations_and_exclusions():
    t, channels = _protocol_time_and_channels()
    good = label_drive(Drive("drive05", t, channels, ()))
    bad = label_drive(Drive("drive01", t, {}, ()))
    text = format_segment_summary([good, bad])
    lines = text.splitlines()
    assert "rest1" in lines[0] and "highway2" in lines[0]
    assert lines[1].startswith("drive05") and "15.0" in lines[1]
    assert lines[2] == "drive01      excluded: no marker column"
