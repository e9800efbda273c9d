"""WESAD per-window feature CSVs (`S<k>_feats_4.csv`) as `features: float32[N,F]` + WESAD3 labels.

Format of each subject file: a header row; the first column is a row index (ignored), then
the feature columns (by default exactly `WESAD_FEATURE_COLUMNS`, 46 wrist + chest features),
then the one-hot label columns `0,1,2` = amusement, baseline, stress (`WESAD3` order).
Every file must have the same columns. Rows must have the header's field count, finite
numbers, and a valid one-hot label (values 0/1, exactly one 1). A bad row raises
`DataFormatError` naming the file and line, unless `on_bad_row='skip'`, which skips it,
logs the count and returns it in `skipped`. A wrong column set always raises.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emocore.label_spaces import WESAD3
from emodata.errors import (
    BadRowPolicy,
    DataFormatError,
    check_on_bad_row,
    log_skipped,
    require_exists,
)

logger = logging.getLogger(__name__)

FILE_PATTERN = re.compile(r"^S(\d+)_feats_4\.csv$")
LABEL_COLUMNS: tuple[str, ...] = ("0", "1", "2")
WESAD_FEATURE_COLUMNS: tuple[str, ...] = tuple(
    [f"net_acc_{s}" for s in ("mean", "std", "min", "max")]
    + [f"ACC_{a}_{s}" for a in "xyz" for s in ("mean", "std", "min", "max")]
    + [
        f"{sig}_{s}"
        for sig in ("BVP", "EDA", "EDA_phasic", "EDA_smna", "EDA_tonic", "Resp", "TEMP")
        for s in ("mean", "std", "min", "max")
    ]
    + ["BVP_peak_freq", "TEMP_slope"]
)


@dataclasses.dataclass(frozen=True)
class WesadFeatures:
    """WESAD windows: `features: float32[N,F]`, `labels: int64[N]` (WESAD3 order),
    `subject_ids: int64[N]` (k of `S<k>`), `feature_names: tuple[str, ...]` of length F.

    `skipped` counts bad rows skipped under `on_bad_row='skip'`.
    """

    features: np.ndarray
    labels: np.ndarray
    subject_ids: np.ndarray
    feature_names: tuple[str, ...]
    skipped: int = 0

    def __post_init__(self) -> None:
        n, f = len(self.labels), len(self.feature_names)
        if self.features.shape != (n, f) or self.features.dtype != np.float32:
            raise ValueError(
                f"features must be float32[{n},{f}]; got "
                f"{self.features.dtype}{list(self.features.shape)}"
            )
        if self.subject_ids.shape != (n,):
            raise ValueError(f"subject_ids must have shape [{n}]; got {self.subject_ids.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def subjects(self) -> tuple[int, ...]:
        """The distinct subject numbers, ascending."""
        return tuple(int(s) for s in np.unique(self.subject_ids))

    def label_counts(self) -> dict[str, int]:
        """Number of windows per WESAD3 label name (all labels listed)."""
        counts = np.bincount(self.labels, minlength=WESAD3.num_classes)
        return {name: int(c) for name, c in zip(WESAD3.labels, counts, strict=True)}


def load_wesad_features(
    root: str | os.PathLike[str],
    *,
    subjects: Sequence[int] | None = None,
    feature_names: Sequence[str] | None = WESAD_FEATURE_COLUMNS,
    on_bad_row: BadRowPolicy = "error",
) -> WesadFeatures:
    """Load all (or the listed) `S<k>_feats_4.csv` files in `root`, ordered by subject.

    Args:
      root: folder holding the per-subject CSVs.
      subjects: subject numbers to load (each file must exist); None loads every file.
      feature_names: the exact expected feature columns, in order; None accepts any set as
        long as every file has the same one.
      on_bad_row: 'error' raises on the first bad row; 'skip' skips and counts bad rows.

    Returns:
      `WesadFeatures` with `features: float32[N,F]`, `labels: int64[N]`, `subject_ids: int64[N]`.
    """
    check_on_bad_row(on_bad_row)
    root = Path(root)
    require_exists(root, "WESAD feature folder")
    if not root.is_dir():
        raise NotADirectoryError(f"WESAD root must be a folder; got file {str(root)!r}")
    found = {int(m.group(1)): p for p in root.iterdir() if (m := FILE_PATTERN.match(p.name))}
    if not found:
        raise FileNotFoundError(f"no files matching {FILE_PATTERN.pattern!r} in {str(root)!r}")
    if subjects is None:
        wanted = sorted(found)
    else:
        wanted = sorted(set(int(s) for s in subjects))
        missing = [s for s in wanted if s not in found]
        if missing or not wanted:
            raise FileNotFoundError(
                f"subjects {missing or list(subjects)} have no S<k>_feats_4.csv in "
                f"{str(root)!r}; available subjects: {sorted(found)}"
            )

    names: tuple[str, ...] | None = tuple(feature_names) if feature_names is not None else None
    blocks: list[tuple[np.ndarray, np.ndarray, int]] = []
    skipped, first_problem = 0, None
    for subject in wanted:
        path = found[subject]
        header, features, labels, problems = _read_subject(path)
        file_names = _check_header(path, header, names)
        names = names or file_names
        if problems and on_bad_row == "error":
            raise DataFormatError(problems[0])
        skipped += len(problems)
        first_problem = first_problem or (problems[0] if problems else None)
        blocks.append((features, labels, subject))
    log_skipped(logger, str(root), skipped, first_problem)
    assert names is not None
    features = np.concatenate([b[0] for b in blocks]).reshape(-1, len(names))
    labels = np.concatenate([b[1] for b in blocks])
    if not len(labels):
        raise DataFormatError(f"{root}: no valid rows in {len(wanted)} file(s) (skipped {skipped})")
    subject_ids = np.concatenate([np.full(len(b[1]), b[2], dtype=np.int64) for b in blocks])
    return WesadFeatures(
        features=features.astype(np.float32),
        labels=labels,
        subject_ids=subject_ids,
        feature_names=names,
        skipped=skipped,
    )


def _check_header(
    path: Path, header: list[str], expected: tuple[str, ...] | None
) -> tuple[str, ...]:
    """The feature column names of `header`; raises DataFormatError on a wrong column set."""
    if len(header) < 2 + len(LABEL_COLUMNS) or tuple(header[-3:]) != LABEL_COLUMNS:
        raise DataFormatError(
            f"{path}: line 1: expected an index column, feature columns, then label columns "
            f"{list(LABEL_COLUMNS)}; got {header}"
        )
    features = tuple(header[1:-3])
    if expected is not None and features != expected:
        missing = [c for c in expected if c not in features]
        extra = [c for c in features if c not in expected]
        raise DataFormatError(
            f"{path}: line 1: feature columns differ from the expected {len(expected)} "
            f"(as in the first file when none are given): missing {missing}, unexpected "
            f"{extra}{', order differs' if not (missing or extra) else ''}"
        )
    return features


def _read_subject(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(header, float64[n*F] features, int64[n] labels, problems) for one subject file."""
    features: list[float] = []
    labels: list[int] = []
    problems: list[str] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        width = len(header)
        for row in reader:
            if not row:
                continue
            values, problem = _parse_row(row, width)
            if problem is not None:
                problems.append(f"{path}: line {reader.line_num}: {problem}")
                continue
            onehot = values[-3:]
            features.extend(values[1:-3])
            labels.append(onehot.index(1.0))
    return header, np.asarray(features, np.float64), np.asarray(labels, np.int64), problems


def _parse_row(row: list[str], width: int) -> tuple[list[float], str | None]:
    if len(row) != width:
        return [], f"expected {width} fields as in the header; got {len(row)}"
    try:
        values = [float(v) for v in row]
    except ValueError as e:
        return [], f"non-numeric value ({e})"
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        return [], f"non-finite value {row[bad[0]]!r} in column {bad[0]}"
    onehot = values[-3:]
    if any(v not in (0.0, 1.0) for v in onehot) or sum(onehot) != 1.0:
        return [], f"label columns {list(LABEL_COLUMNS)} must be one-hot; got {row[-3:]}"
    return values, None
