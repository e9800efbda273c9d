"""drivedb raw drives (PhysioNet "Stress Recognition in Automobile Drivers") and their
stress-level labels derived from the marker channel.

Files: `driveNN.csv` (also `drive17a.csv`, `drive17b.csv`), nominally 15.5 Hz (the time step
is 0.065 s, i.e. 15.4 Hz; `Drive.sample_rate_hz` measures it). The header is read, not
assumed: the first column must be `Elapsed time(s)`; known channel columns (`CHANNEL_COLUMNS`)
become float32 arrays under normalised names (ecg, emg, foot_gsr, hand_gsr, hr, marker, resp).
Other columns (drive02 carries a `peak` column that is empty after its first ~1,000 rows) are
not parsed; they are listed in `Drive.ignored_columns` and logged. Time must increase
strictly. An empty, non-numeric, NaN or inf value in a used column, or a row with the wrong
field count, raises `DataFormatError` naming the file, the 1-based line and the column (header
name and 1-based position, e.g. `'HR(bpm)' (column 5 of 8)`), unless `on_bad_row='skip'`,
which drops the row, logs the count and returns it in `Drive.skipped`. Finite but implausible
values (drive08/drive09 end with a few seconds of ECG = -10 mV and zeros) are kept.
drive13 and drive14 hold one recording (identical time and shared columns): `load_drivedb`
merges them into one drive `drive13_14` with the union of their channels, after checking
that the shared columns are equal.

Labels (Healey & Picard 2005). Protocol: Rest - City1 - Hwy1 - City2 - Hwy2 - City3 - Rest;
the experimenter's marker pulses at each of the 8 boundaries. Levels (`DRIVEDB3`): rest = low
(0), highway = medium (1), city = high (2). Detection, in `detect_marker_pulses`:
  1. Baseline: the marker's median over consecutive `baseline_window_s` (15 s) blocks; each
     block takes the largest of its own and its two neighbours' medians. Pulses last < 7 s,
     so they barely move a block median, while the level differs between drives (9-19 mV)
     and steps within a drive; taking the upper neighbour keeps a step up of the level
     from looking like a pulse (it only lowers pulses that sit right on such a step).
  2. Samples more than `threshold = max(min_height_mv, noise_factor * sigma)` above the
     baseline are "high" (sigma = 1.4826 * MAD of the residual; default floor 2 mV: the
     boundary pulses of the real drives reach 3.8-73 mV above baseline, while the flat
     residual has sigma ~ 0.01 mV and its largest noise spikes reach ~2 mV).
  3. Runs of high samples closer than `merge_gap_s` (60 s) form one pulse: the real drives
     show double presses 30-55 s apart (drive04 at 15.7/16.2 and 35.5/36.4 min, drive02 at
     54.2/54.8 min) and bursts of small spikes (drive07 at 53-54 min), whereas true
     boundaries are >= 4 min apart.
Mapping, in `label_drive`: a segment runs from the end of one boundary pulse to the start of
the next. With fewer than 8 pulses the drive is excluded. With more (toll-booth/turnaround
presses, start-up artefacts, small noise spikes), the 8 boundaries are chosen by dynamic
programming so that the 7 segment durations best fit `TYPICAL_MINUTES` (least squares on
log duration ratios; typical values are the medians of the drives with exactly 8 pulses);
the unused pulses are reported as dropped. Finally every segment must have a plausible
duration (`PLAUSIBLE_MINUTES`: rest 10-20, city 4-25, highway 4-15 min), else the drive is
excluded with the offending segment in the reason. Samples before the first and after the
last boundary, and inside pulses, are unlabelled (-1 in `sample_labels`).
On the shared copy of the data this labels drive02, 04-08, 10-12, 13_14 and 15 (dropping
the start-up burst and one extra press in drive02, one in drive04, one noise spike each in
drive10 and drive13_14) and excludes drive01 (no marker), drive09 (last pulse 1.1 min after
the previous one, so no final rest), drive16 (4 pulses) and drive17a/drive17b (two pieces
of one drive with restarted time; 2 and 3 pulses). `format_segment_summary` prints the
per-drive durations for checking.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from emocore.label_spaces import DRIVEDB3
from emocore.physio import Signal
from emodata.errors import (
    BadRowPolicy,
    DataFormatError,
    check_on_bad_row,
    log_skipped,
    require_exists,
)

logger = logging.getLogger(__name__)

TIME_COLUMN = "Elapsed time(s)"
CHANNEL_COLUMNS: dict[str, str] = {
    "ECG(mV)": "ecg",
    "EMG(mV)": "emg",
    "foot GSR(mV)": "foot_gsr",
    "hand GSR(mV)": "hand_gsr",
    "HR(bpm)": "hr",
    "marker(mV)": "marker",
    "RESP(mV)": "resp",
}
NOMINAL_SAMPLE_RATE_HZ = 15.5
FILE_PATTERN = re.compile(r"^drive\d+[a-z]?\.csv$")
# Files holding one and the same recording, and the name of the merged drive.
SAME_RECORDING: dict[tuple[str, str], str] = {("drive13", "drive14"): "drive13_14"}

# Healey & Picard protocol: (segment name, DRIVEDB3 level) in driving order.
PROTOCOL: tuple[tuple[str, str], ...] = (
    ("rest1", "low"),
    ("city1", "high"),
    ("highway1", "medium"),
    ("city2", "high"),
    ("highway2", "medium"),
    ("city3", "high"),
    ("rest2", "low"),
)
TYPICAL_MINUTES: tuple[float, ...] = (15.1, 14.5, 7.4, 6.5, 7.6, 11.9, 15.1)
PLAUSIBLE_MINUTES: dict[str, tuple[float, float]] = {
    "rest": (10.0, 20.0),
    "city": (4.0, 25.0),
    "highway": (4.0, 15.0),
}
MAX_PULSES = 30


@dataclasses.dataclass(frozen=True)
class Drive:
    """One recording: `time_s: float64[T]`, `channels: {name: float32[T]}` (normalised names).

    `ignored_columns` lists header columns that are not known channels (not parsed);
    `skipped` counts bad rows dropped under `on_bad_row='skip'`.
    """

    name: str
    time_s: np.ndarray
    channels: Mapping[str, np.ndarray]
    source_files: tuple[str, ...]
    ignored_columns: tuple[str, ...] = ()
    skipped: int = 0

    @property
    def sample_rate_hz(self) -> float:
        """Sample rate estimated from the median time step."""
        if len(self.time_s) < 2:
            return float("nan")
        return float(1.0 / np.median(np.diff(self.time_s)))

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0]) if len(self.time_s) else 0.0


@dataclasses.dataclass(frozen=True)
class Pulse:
    """A marker pulse (or merged group of pulses): start/end time in s, peak above baseline."""

    start_s: float
    end_s: float
    height_mv: float


@dataclasses.dataclass(frozen=True)
class Segment:
    """A protocol segment: `name` (e.g. 'city2'), `label` (DRIVEDB3 id), [start_s, end_s)."""

    name: str
    label: int
    start_s: float
    end_s: float

    @property
    def level(self) -> str:
        return DRIVEDB3.labels[self.label]

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclasses.dataclass(frozen=True)
class DriveLabels:
    """Labelling of one drive: protocol segments (empty when excluded) and the pulses used.

    `dropped_pulses` are detected pulses not used as boundaries; `excluded_reason` is None
    for a labelled drive.
    """

    drive: str
    segments: tuple[Segment, ...]
    pulses: tuple[Pulse, ...]
    dropped_pulses: tuple[Pulse, ...] = ()
    excluded_reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.excluded_reason is None

    def as_tuples(self) -> list[tuple[int, float, float]]:
        """The segments as (label, start_s, end_s)."""
        return [(s.label, s.start_s, s.end_s) for s in self.segments]

    def seconds_per_level(self) -> dict[str, float]:
        """Labelled seconds per DRIVEDB3 level (all levels listed)."""
        out = dict.fromkeys(DRIVEDB3.labels, 0.0)
        for s in self.segments:
            out[s.level] += s.duration_s
        return out


# ------------------------------------------------------------------------------ reading


def read_drive(path: str | os.PathLike[str], *, on_bad_row: BadRowPolicy = "error") -> Drive:
    """Read one `driveNN.csv` into a `Drive` named after the file stem."""
    check_on_bad_row(on_bad_row)
    path = Path(path)
    require_exists(path, "drivedb file")
    with open(path, newline="", encoding="utf-8") as f:
        header = [h.strip() for h in next(csv.reader(f), [])]
    if not header or header[0] != TIME_COLUMN:
        raise DataFormatError(
            f"{path}: line 1: first column must be {TIME_COLUMN!r}; got header {header}"
        )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DataFormatError(f"{path}: line 1: duplicate columns {duplicates}")
    used = [0] + [i for i, h in enumerate(header) if h in CHANNEL_COLUMNS]
    if len(used) == 1:
        raise DataFormatError(
            f"{path}: line 1: no known channel column; expected some of "
            f"{list(CHANNEL_COLUMNS)}; got {header}"
        )
    ignored = tuple(h for i, h in enumerate(header) if i not in used)
    if ignored:
        logger.warning("%s: ignoring unknown columns %s", path, list(ignored))

    values, lines, problems = _parse_values(path, header, used)
    if problems and on_bad_row == "error":
        raise DataFormatError(problems[0])
    log_skipped(logger, str(path), len(problems), problems[0] if problems else None)
    if len(values) == 0:
        raise DataFormatError(f"{path}: no valid data rows (skipped {len(problems)})")
    time_s = values[:, 0]
    steps = np.diff(time_s)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0)) + 1
        raise DataFormatError(
            f"{path}: line {lines[k]}: {TIME_COLUMN} must increase; got {time_s[k]} after "
            f"{time_s[k - 1]}"
        )
    channels = {
        CHANNEL_COLUMNS[header[c]]: values[:, j].astype(np.float32)
        for j, c in enumerate(used)
        if j > 0
    }
    return Drive(
        name=path.stem,
        time_s=time_s,
        channels=channels,
        source_files=(str(path),),
        ignored_columns=ignored,
        skipped=len(problems),
    )


def _column(header: Sequence[str], index: int) -> str:
    """How problems name a column: its header name and 1-based position."""
    return f"{header[index]!r} (column {index + 1} of {len(header)})"


def _parse_values(
    path: Path, header: Sequence[str], used: list[int]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(float64[n, len(used)] good rows, int[n] their 1-based file lines, problems) of a drive
    csv; each problem names the file, the line and the column (header name, 1-based number)."""
    width = len(header)
    with open(path, encoding="utf-8") as f:
        text_lines = f.read().splitlines()[1:]
    fields_ok = all(line.count(",") == width - 1 for line in text_lines)
    if fields_ok:  # fast C parser; a malformed value sends us to the line-by-line path below
        try:
            values = np.loadtxt(text_lines, delimiter=",", usecols=used, ndmin=2, comments=None)
        except ValueError:
            fields_ok = False
    if fields_ok:
        lines = np.arange(2, len(values) + 2)
        finite = np.isfinite(values).all(axis=1)
        problems = []
        for i in np.flatnonzero(~finite):
            j = int(np.argmin(np.isfinite(values[i])))  # the first non-finite used column
            problems.append(f"{path}: line {lines[i]}: column {_column(header, used[j])} "
                            f"holds a non-finite value {float(values[i, j])!r}")
        return values[finite], lines[finite], problems
    rows: list[list[float]] = []
    good_lines: list[int] = []
    problems = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            if not row:
                continue
            problem = None
            if len(row) != width:
                problem = f"expected {width} fields as in the header; got {len(row)}"
            else:
                try:
                    parsed = [float(row[c]) for c in used]
                except ValueError:
                    bad = next(c for c in used if not _is_float(row[c]))
                    problem = (f"column {_column(header, bad)} holds a non-numeric value "
                               f"{row[bad]!r}")
                else:
                    bad_values = [(c, v) for c, v in zip(used, parsed, strict=True)
                                  if not math.isfinite(v)]
                    if bad_values:
                        c, v = bad_values[0]
                        problem = f"column {_column(header, c)} holds a non-finite value {v!r}"
            if problem is None:
                rows.append(parsed)
                good_lines.append(reader.line_num)
            else:
                problems.append(f"{path}: line {reader.line_num}: {problem}")
    values = np.asarray(rows, dtype=np.float64).reshape(-1, len(used))
    return values, np.asarray(good_lines, dtype=np.int64), problems


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def merge_recordings(first: Drive, second: Drive, name: str) -> Drive:
    """One drive from two files of the same recording: union of channels, shared ones equal."""
    if first.time_s.shape != second.time_s.shape or not np.array_equal(first.time_s, second.time_s):
        raise ValueError(
            f"cannot merge {first.name!r} and {second.name!r} into {name!r}: their time "
            f"columns differ ({len(first.time_s)} vs {len(second.time_s)} samples)"
        )
    differing = [
        c
        for c in sorted(set(first.channels) & set(second.channels))
        if not np.array_equal(first.channels[c], second.channels[c])
    ]
    if differing:
        raise ValueError(
            f"cannot merge {first.name!r} and {second.name!r} into {name!r}: shared "
            f"channels {differing} differ"
        )
    return Drive(
        name=name,
        time_s=first.time_s,
        channels={**second.channels, **first.channels},
        source_files=first.source_files + second.source_files,
        ignored_columns=tuple(sorted(set(first.ignored_columns) | set(second.ignored_columns))),
        skipped=first.skipped + second.skipped,
    )


def load_drivedb(
    root: str | os.PathLike[str], *, on_bad_row: BadRowPolicy = "error"
) -> dict[str, Drive]:
    """All `drive*.csv` files in `root` as {drive name: Drive}, sorted by name.

    Files of one recording (`SAME_RECORDING`) are merged into one drive when both exist.
    """
    check_on_bad_row(on_bad_row)
    root = Path(root)
    require_exists(root, "drivedb folder")
    if not root.is_dir():
        raise NotADirectoryError(f"drivedb root must be a folder; got file {str(root)!r}")
    paths = sorted(p for p in root.iterdir() if FILE_PATTERN.match(p.name))
    if not paths:
        raise FileNotFoundError(f"no files matching {FILE_PATTERN.pattern!r} in {str(root)!r}")
    drives = {p.stem: read_drive(p, on_bad_row=on_bad_row) for p in paths}
    for (a, b), merged in SAME_RECORDING.items():
        if a in drives and b in drives:
            drives[merged] = merge_recordings(drives.pop(a), drives.pop(b), merged)
    return dict(sorted(drives.items()))


# ----------------------------------------------------------------------------- labelling


def detect_marker_pulses(
    time_s: np.ndarray,
    marker: np.ndarray,
    *,
    min_height_mv: float = 2.0,
    noise_factor: float = 8.0,
    baseline_window_s: float = 15.0,
    merge_gap_s: float = 60.0,
) -> list[Pulse]:
    """Pulses of `marker: float[T]` sampled at `time_s: float[T]` (see the module docstring)."""
    time_s = np.asarray(time_s, dtype=np.float64)
    marker = np.asarray(marker, dtype=np.float64)
    if time_s.ndim != 1 or time_s.shape != marker.shape or len(time_s) < 2:
        raise ValueError(
            f"time_s and marker must be 1-D of equal length >= 2; got shapes "
            f"{time_s.shape} and {marker.shape}"
        )
    for name, value in (
        ("min_height_mv", min_height_mv),
        ("baseline_window_s", baseline_window_s),
        ("merge_gap_s", merge_gap_s),
    ):
        if not value > 0:
            raise ValueError(f"{name} must be > 0; got {value}")
    if noise_factor < 0:
        raise ValueError(f"noise_factor must be >= 0; got {noise_factor}")
    residual = marker - _marker_baseline(time_s, marker, baseline_window_s)
    sigma = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
    threshold = max(min_height_mv, noise_factor * sigma)
    high = np.flatnonzero(residual > threshold)
    if not len(high):
        return []
    breaks = np.flatnonzero(np.diff(time_s[high]) > merge_gap_s)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(high) - 1]])
    return [
        Pulse(
            start_s=float(time_s[high[a]]),
            end_s=float(time_s[high[b]]),
            height_mv=float(residual[high[a] : high[b] + 1].max()),
        )
        for a, b in zip(starts, ends, strict=True)
    ]


def _marker_baseline(time_s: np.ndarray, marker: np.ndarray, window_s: float) -> np.ndarray:
    """`float64[T]`: per block of `window_s`, the max of its and its neighbours' medians."""
    step = float(np.median(np.diff(time_s)))
    block = max(1, int(round(window_s / step)))
    full = len(marker) // block
    medians = list(np.median(marker[: full * block].reshape(full, block), axis=1))
    if len(marker) > full * block:
        medians.append(float(np.median(marker[full * block :])))
    padded = np.asarray([medians[0], *medians, medians[-1]])
    envelope = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return np.repeat(envelope, block)[: len(marker)]


def label_drive(drive: Drive, **detector_kwargs: float) -> DriveLabels:
    """Protocol segments of `drive` from its marker channel, or the reason it is excluded.

    `detector_kwargs` go to `detect_marker_pulses`.
    """
    if "marker" not in drive.channels:
        return DriveLabels(drive.name, (), (), excluded_reason="no marker column")
    pulses = detect_marker_pulses(drive.time_s, drive.channels["marker"], **detector_kwargs)
    need = len(PROTOCOL) + 1
    if len(pulses) < need:
        return DriveLabels(
            drive.name,
            (),
            tuple(pulses),
            excluded_reason=(
                f"{len(pulses)} marker pulse(s) found, at "
                f"{_minutes([p.start_s for p in pulses])} min; the protocol needs {need}"
            ),
        )
    if len(pulses) > MAX_PULSES:
        return DriveLabels(
            drive.name,
            (),
            tuple(pulses),
            excluded_reason=f"{len(pulses)} marker pulses (> {MAX_PULSES}): marker too noisy",
        )
    chosen = _fit_protocol(pulses)
    segments = tuple(
        Segment(
            name=name,
            label=DRIVEDB3.index(level),
            start_s=pulses[i].end_s,
            end_s=pulses[j].start_s,
        )
        for (name, level), i, j in zip(PROTOCOL, chosen[:-1], chosen[1:], strict=True)
    )
    dropped = tuple(p for k, p in enumerate(pulses) if k not in chosen)
    for s in segments:
        low, high = PLAUSIBLE_MINUTES[s.name.rstrip("0123456789")]
        if not low <= s.duration_s / 60 <= high:
            fitted = ", ".join(f"{t.name} {t.duration_s / 60:.1f}" for t in segments)
            return DriveLabels(
                drive.name,
                (),
                tuple(pulses),
                dropped,
                excluded_reason=(
                    f"{s.name} lasts {s.duration_s / 60:.1f} min, outside the plausible "
                    f"{low:g}-{high:g} min (best fit: {fitted})"
                ),
            )
    return DriveLabels(drive.name, segments, tuple(pulses), dropped)


def _fit_protocol(pulses: Sequence[Pulse]) -> list[int]:
    """Indices of the len(PROTOCOL)+1 pulses whose segments best fit TYPICAL_MINUTES."""
    n, k_max = len(pulses), len(PROTOCOL)
    typical = np.asarray(TYPICAL_MINUTES) * 60.0
    cost = np.full((k_max + 1, n), np.inf)
    back = np.zeros((k_max + 1, n), dtype=np.int64)
    cost[0, :] = 0.0
    for k in range(1, k_max + 1):
        for j in range(k, n):
            for i in range(k - 1, j):
                duration = max(pulses[j].start_s - pulses[i].end_s, 1.0)
                c = cost[k - 1, i] + math.log(duration / typical[k - 1]) ** 2
                if c < cost[k, j]:
                    cost[k, j], back[k, j] = c, i
    chosen = [int(np.argmin(cost[k_max]))]
    for k in range(k_max, 0, -1):
        chosen.append(int(back[k, chosen[-1]]))
    return chosen[::-1]


def sample_labels(time_s: np.ndarray, segments: Sequence[Segment]) -> np.ndarray:
    """Per-sample `int64[T]` DRIVEDB3 labels for `time_s: float[T]`; -1 outside segments."""
    time_s = np.asarray(time_s)
    labels = np.full(time_s.shape, -1, dtype=np.int64)
    for s in segments:
        labels[(time_s >= s.start_s) & (time_s < s.end_s)] = s.label
    return labels


def format_segment_summary(labellings: Sequence[DriveLabels]) -> str:
    """A printable table: per drive, segment durations (min) and minutes per level."""
    names = [name for name, _ in PROTOCOL]
    head = f"{'drive':<11}" + "".join(f"{n:>9}" for n in names)
    head += "".join(f"{lv:>8}" for lv in DRIVEDB3.labels) + "  notes"
    lines = [head + "  (minutes)"]
    for lab in labellings:
        if not lab.usable:
            lines.append(f"{lab.drive:<11}  excluded: {lab.excluded_reason}")
            continue
        row = f"{lab.drive:<11}" + "".join(f"{s.duration_s / 60:>9.1f}" for s in lab.segments)
        row += "".join(f"{v / 60:>8.1f}" for v in lab.seconds_per_level().values())
        if lab.dropped_pulses:
            row += f"  dropped pulses at {_minutes([p.start_s for p in lab.dropped_pulses])} min"
        lines.append(row)
    return "\n".join(lines)


def _minutes(seconds: Sequence[float]) -> str:
    return "[" + ", ".join(f"{s / 60:.1f}" for s in seconds) + "]"


# ------------------------------------------------------------------------------ signals
# Signal kind (emocore.physio) -> its drivedb channels, the first present wins (hand GSR, else
# foot GSR, is "eda"). The ONE mapping: training windows and the edge replay both use it. ECG is
# left out: drivedb's 15.5 Hz ECG has 1-sample R waves the size of its T waves, so HR(bpm) is the
# cardiac source (a drive without it has NaN cardiac features in training and at the edge alike).
DRIVEDB_SIGNALS: dict[str, tuple[str, ...]] = {
    "hr": ("hr",), "eda": ("hand_gsr", "foot_gsr"), "resp": ("resp",),
}  # fmt: skip


def drive_channels(drive: Drive, signals: Mapping[str, tuple[str, ...]] = DRIVEDB_SIGNALS
                   ) -> dict[str, str]:
    """{signal kind: drivedb channel} of the kinds `drive` has (`signals` maps each kind to its
    channels; the first present wins); empty when it has none."""
    found = {}
    for kind, channels in signals.items():
        channel = next((c for c in channels if c in drive.channels), None)
        if channel is not None:
            found[kind] = channel
    return found


def drive_signals(drive: Drive, signals: Mapping[str, tuple[str, ...]] = DRIVEDB_SIGNALS
                  ) -> dict[str, Signal]:
    """{signal kind: `Signal(float32[T] channel values, the drive's measured rate)`} of the
    kinds `drive` has (`drive_channels`); kinds it lacks are left out."""
    rate = drive.sample_rate_hz
    return {kind: Signal(drive.channels[channel], rate)
            for kind, channel in drive_channels(drive, signals).items()}
