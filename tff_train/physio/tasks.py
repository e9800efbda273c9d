"""Physiological tasks as labelled windows with one federated client per subject/drive/driver.

Tasks (`TASKS`), each a `PhysioTask` of `features float32[N,F]` (NaN = missing signal),
`labels int64[N]` and `groups str[N]` (the client of every window; windows of one group are in
time order):
  * `wesad3` / `wesad_binary`: the 46 WESAD per-window features as given (`load_wesad_features`),
    labels WESAD3 or WESAD_BINARY (stress vs amusement + baseline); one group per subject `S<k>`.
  * `drivedb3`: drivedb drives through the shared edge extractor (`emocore.physio`,
    window/stride from the PhysioFeatureConfig, 60 s / 5 s by default). Signals: `HR(bpm)` as the
    cardiac source; EDA = hand GSR when the drive has it, else foot GSR (drive02 and drive13 have
    no hand GSR; hand is the usual site of Healey & Picard's analysis, so one site per drive keeps
    the units of a client consistent); RESP. drivedb has no skin temperature: those features are
    NaN (missing), exactly as on a head unit without the sensor. Labels (DRIVEDB3) come from the
    marker-derived segments (`label_drive` + `sample_labels`); a window is kept only when every
    sample in it carries the same label, so windows spanning a segment boundary, a marker pulse
    or the unlabelled start/end are dropped. Drives that `label_drive` excludes are skipped and
    listed in `notes`. One group per drive.
  * `synthetic`: the embedded synthetic cohort (`generate_cohort` + `physio_dataset` with
    `min_purity=1.0`, i.e. boundary-spanning windows dropped), DRIVER_STATE3; one group per driver.

Evaluation helpers: `group_folds` (leave-groups-out folds; never window-level splits),
`client_datasets` (the federated clients of a fold's training groups, each with a validation
split made of the LAST `val_fraction` of every (group, label) block in time order, minus a gap
of `val_gap` windows before it, because neighbouring windows overlap), and `calibrate_groups`,
the per-driver calibration of every group's session as the edge computes it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emocore.calibration import (
    CalibrationConfig,
    ReferenceStats,
    calibrate_session,
    reference_windows,
)
from emocore.label_spaces import (
    DRIVEDB3,
    DRIVER_STATE3,
    WESAD3,
    WESAD_BINARY,
    LabelSpace,
    map_labels,
)
from emocore.physio import (
    PhysioFeatureConfig,
    Signal,
    extract_recording,
    feature_names,
    window_num_samples,
)
from emodata import drivedb
from emodata.drivedb import Drive, label_drive, load_drivedb, sample_labels
from emodata.partitioning import group_partition
from emodata.synthetic_cohort import CohortConfig, generate_cohort, physio_dataset
from emodata.wesad import load_wesad_features

TASKS: tuple[str, ...] = ("wesad3", "wesad_binary", "drivedb3", "synthetic")

class ClientDataset(NamedTuple):
    """One federated client's windows: `x_train float32[n,F]`, `y_train int64[n]`, `x_val
    float32[m,F]`, `y_val int64[m]` (a plain 4-tuple in that order is accepted too)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclasses.dataclass(frozen=True)
class PhysioTask:
    """Labelled windows: `features float32[N,F]`, `labels int64[N]`, `groups str[N]`.

    `notes` holds JSON-ready provenance (e.g. per-drive EDA channel, excluded drives).
    """

    name: str
    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    feature_names: tuple[str, ...]
    label_space: LabelSpace
    notes: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        n, f = len(self.labels), len(self.feature_names)
        if self.features.shape != (n, f) or self.features.dtype != np.float32:
            raise ValueError(
                f"features must be float32[{n},{f}]; got "
                f"{self.features.dtype}{list(self.features.shape)}"
            )
        if self.labels.dtype != np.int64 or self.labels.ndim != 1:
            raise ValueError(f"labels must be int64[N]; got {self.labels.dtype}"
                             f"{list(self.labels.shape)}")
        if n and (self.labels.min() < 0 or self.labels.max() >= self.label_space.num_classes):
            raise ValueError(
                f"labels must lie in [0, {self.label_space.num_classes}) for "
                f"{self.label_space.name!r}; got [{self.labels.min()}, {self.labels.max()}]"
            )
        if self.groups.shape != (n,):
            raise ValueError(f"groups must have shape [{n}]; got {list(self.groups.shape)}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def group_names(self) -> tuple[str, ...]:
        """The distinct groups (clients), sorted."""
        return tuple(str(g) for g in np.unique(self.groups))

    def describe(self) -> dict:
        """JSON-ready summary: windows, groups, windows per class, features, notes."""
        counts = np.bincount(self.labels, minlength=self.label_space.num_classes)
        return {
            "task": self.name,
            "windows": len(self),
            "groups": list(self.group_names),
            "windows_per_class": {c: int(k) for c, k in zip(self.label_space.labels, counts,
                                                             strict=True)},
            "num_features": len(self.feature_names),
            "features_all_missing": [n for n, col in zip(self.feature_names, self.features.T,
                                                         strict=True) if np.isnan(col).all()],
            **self.notes,
        }


# ------------------------------------------------------------------------------ WESAD
def load_wesad_task(root: str | os.PathLike[str], *, binary: bool = False) -> PhysioTask:
    """WESAD windows from `root` (the folder of `S<k>_feats_4.csv`), 3-class or stress vs not."""
    data = load_wesad_features(root)
    labels, space = data.labels, WESAD3
    if binary:
        labels, space = map_labels(labels, WESAD3.name, WESAD_BINARY.name), WESAD_BINARY
    groups = np.array([f"S{s}" for s in data.subject_ids])
    return PhysioTask(
        name="wesad_binary" if binary else "wesad3",
        features=data.features,
        labels=labels.astype(np.int64),
        groups=groups,
        feature_names=data.feature_names,
        label_space=space,
    )


# ------------------------------------------------------------------------------ drivedb
def drive_signals(drive: Drive) -> tuple[dict[str, Signal], str]:
    """The extractor inputs of one drive (`emodata.drivedb.drive_signals`: hr, eda = hand GSR
    else foot GSR, resp; at the drive's measured sample rate) and the EDA channel used ('none'
    when absent). Channels a drive lacks are left out (their features become NaN).
    """
    if not isinstance(drive, Drive):
        raise ValueError(f"drive must be an emodata.drivedb.Drive; got {type(drive).__name__}")
    rate = drive.sample_rate_hz
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"drive {drive.name!r} must hold >= 2 samples to measure its rate; "
                         f"got {len(drive.time_s)}")
    return drivedb.drive_signals(drive), drivedb.drive_channels(drive).get("eda", "none")


def drive_windows(
    drive: Drive, sample_label: np.ndarray, config: PhysioFeatureConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of `drive` lying inside one labelled segment.

    sample_label: int64[T] per-sample DRIVEDB3 label (-1 = unlabelled), e.g. `sample_labels`.
    Returns features float32[W,F], labels int64[W] and window end times float64[W] (s since the
    drive's first sample). The extractor's window k covers samples [hi - n, hi) with
    hi = floor(t_k * fs + 0.5); it is kept when all of them exist and share one label >= 0.
    """
    sample_label = np.asarray(sample_label)
    if sample_label.shape != drive.time_s.shape:
        raise ValueError(f"sample_label must have shape {list(drive.time_s.shape)} (one per "
                         f"sample of {drive.name!r}); got {list(sample_label.shape)}")
    signals, _ = drive_signals(drive)
    if not signals:
        raise ValueError(f"drive {drive.name!r} has none of the channels hr, hand_gsr, "
                         f"foot_gsr, resp; got {sorted(drive.channels)}")
    features, ends = extract_recording(signals, config)
    rate = drive.sample_rate_hz
    n = window_num_samples(config.window_s, rate)
    hi = np.floor(ends * rate + 0.5).astype(np.int64)
    lo = hi - n
    keep = np.flatnonzero((lo >= 0) & (hi <= len(sample_label)))
    # Pure window: no label change and no unlabelled sample among samples [lo, hi).
    changes = np.concatenate(([0], np.cumsum(sample_label[1:] != sample_label[:-1])))
    unlabelled = np.concatenate(([0], np.cumsum(sample_label < 0)))
    pure = (changes[hi[keep] - 1] == changes[lo[keep]]) & (
        unlabelled[hi[keep]] == unlabelled[lo[keep]])
    keep = keep[pure]
    labels = sample_label[lo[keep]].astype(np.int64)
    return features[keep], labels, ends[keep]


def load_drivedb_task(
    root: str | os.PathLike[str], config: PhysioFeatureConfig = PhysioFeatureConfig()
) -> PhysioTask:
    """drivedb windows of every labelled drive in `root` (see the module docstring)."""
    if not isinstance(config, PhysioFeatureConfig):
        raise ValueError(f"config must be a PhysioFeatureConfig; got {type(config).__name__}")
    drives = load_drivedb(root)
    names = feature_names(config)
    feats, labels, groups = [], [], []
    eda_sources, excluded = {}, {}
    for name, drive in drives.items():
        labelling = label_drive(drive)
        if not labelling.usable:
            excluded[name] = labelling.excluded_reason
            continue
        x, y, _ = drive_windows(drive, sample_labels(drive.time_s, labelling.segments), config)
        if not len(y):
            excluded[name] = f"no {config.window_s:g}-s window inside one labelled segment"
            continue
        eda_sources[name] = drive_signals(drive)[1]
        feats.append(x)
        labels.append(y)
        groups.append(np.full(len(y), name))
    if not feats:
        raise ValueError(f"no labelled drive in {os.fspath(root)!r}: {excluded}")
    return PhysioTask(
        name="drivedb3",
        features=np.concatenate(feats).reshape(-1, len(names)).astype(np.float32),
        labels=np.concatenate(labels),
        groups=np.concatenate(groups),
        feature_names=names,
        label_space=DRIVEDB3,
        notes={"eda_channel": eda_sources, "excluded_drives": excluded,
               "window_s": config.window_s, "stride_s": config.stride_s},
    )


# ------------------------------------------------------------------------------ synthetic
def synthetic_task(
    num_drivers: int, seed: int, config: PhysioFeatureConfig = PhysioFeatureConfig(),
    cohort_config: CohortConfig = CohortConfig(frame_fps=0.0, faces_per_class=1),
) -> PhysioTask:
    """The synthetic cohort's windows (inside one state segment only), one group per driver."""
    cohort = generate_cohort(num_drivers, seed, cohort_config)
    data = physio_dataset(cohort, config, min_purity=1.0)
    return PhysioTask(
        name="synthetic",
        features=data.features,
        labels=data.labels,
        groups=np.array([f"driver{d:02d}" for d in data.driver_ids]),
        feature_names=feature_names(config),
        label_space=DRIVER_STATE3,
        notes={"seed": seed, "drivers": num_drivers,
               "episodes_per_driver": cohort_config.episodes_per_driver,
               "window_s": config.window_s, "stride_s": config.stride_s},
    )


def load_task(
    task: str, data_root: str | os.PathLike[str] | None = None, *,
    feature_config: PhysioFeatureConfig = PhysioFeatureConfig(), synthetic_drivers: int = 6,
    seed: int = 0, cohort_config: CohortConfig = CohortConfig(frame_fps=0.0, faces_per_class=1),
) -> PhysioTask:
    """One of `TASKS`; real tasks read `<data_root>/wesad_features` or `<data_root>/drivedb`."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}; got {task!r}")
    if task == "synthetic":
        return synthetic_task(synthetic_drivers, seed, feature_config, cohort_config)
    if data_root is None:
        raise ValueError(f"data_root is required for task {task!r}; got None")
    if task == "drivedb3":
        return load_drivedb_task(Path(data_root) / "drivedb", feature_config)
    return load_wesad_task(Path(data_root) / "wesad_features", binary=task == "wesad_binary")


# ------------------------------------------------------------------------------ evaluation
def calibrate_groups(
    features: np.ndarray, groups: np.ndarray, config: CalibrationConfig,
    train_groups: Sequence[str], feature_names: Sequence[str],
) -> tuple[np.ndarray, ReferenceStats | None]:
    """Every group's windows calibrated as the edge would, one session per group in row order.

    features: float32[N,F] (NaN = missing); groups: [N] (each group's rows in time order).
    Returns (float32[N,F], the population prior or None). The prior is learnt from
    `train_groups` only: the merged statistics of their reference windows
    (`emocore.calibration.reference_windows`; every window when the reference is the prior
    alone). With `prior="driver_profile"` each group is referenced to its own profile, here the
    statistics of all its windows (on the head unit: the driver's earlier sessions).
    "none" returns the features unchanged and no prior.
    """
    x = np.asarray(features)
    groups = np.asarray(groups)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"features must be float[N,F]; got {x.dtype}{list(x.shape)}")
    if groups.shape != (x.shape[0],):
        raise ValueError(f"groups must have shape [{x.shape[0]}]; got {list(groups.shape)}")
    unknown = sorted(set(train_groups) - set(groups.tolist()))
    if unknown or not len(train_groups):
        raise ValueError(f"train_groups must be a non-empty subset of the groups; got unknown "
                         f"{unknown or list(train_groups)}")
    if not config.enabled:
        return x.astype(np.float32, copy=False), None
    names = tuple(feature_names)
    if len(names) != x.shape[1]:
        raise ValueError(f"feature_names must name the {x.shape[1]} feature columns; got "
                         f"{len(names)} names")
    own_reference = config.baseline_windows > 0 or config.running
    population = ReferenceStats.empty(names)
    for g in train_groups:
        rows = x[groups == g]
        population = population.merge(ReferenceStats.from_windows(
            reference_windows(rows, config) if own_reference else rows, names))
    out = np.empty(x.shape, np.float32)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        prior = (ReferenceStats.from_windows(x[rows], names)
                 if config.prior == "driver_profile" else population)
        out[rows] = calibrate_session(x[rows], config, prior)
    return out, population


def group_folds(groups: np.ndarray | Sequence[str], num_folds: int, seed: int = 0
                ) -> list[tuple[str, ...]]:
    """Leave-groups-out folds: the held-out groups of each fold (each group in exactly one).

    The sorted distinct groups are shuffled with `seed` and cut into `num_folds` near-equal
    parts; every fold's held-out groups are returned sorted.
    """
    names = np.unique(np.asarray(groups).astype(str))
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or not (
            2 <= num_folds <= len(names)):
        raise ValueError(f"num_folds must be an int in [2, {len(names)}] (the number of "
                         f"groups); got {num_folds!r}")
    order = np.random.default_rng(seed).permutation(len(names))
    return [tuple(sorted(str(g) for g in names[part]))
            for part in np.array_split(order, num_folds)]


def client_datasets(
    task: PhysioTask, train_groups: Sequence[str], *, val_fraction: float = 0.2,
    val_gap: int = 0, features: np.ndarray | None = None,
) -> list[ClientDataset]:
    """One federated client per group in `train_groups` (in that order).

    Each is (x_train float32[n,F], y_train int64[n], x_val, y_val): per (group, label) block in
    time order, the last `val_fraction` of the windows (`group_partition(contiguous_val=True)`)
    are validation and the `val_gap` training windows just before them are dropped.
    features: float32[N,F] to use instead of `task.features` (e.g. normalised).
    """
    x_all = task.features if features is None else np.asarray(features, np.float32)
    if x_all.shape != task.features.shape:
        raise ValueError(f"features must have shape {list(task.features.shape)}; got "
                         f"{list(x_all.shape)}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1); got {val_fraction!r}")
    if isinstance(val_gap, bool) or not isinstance(val_gap, int) or val_gap < 0:
        raise ValueError(f"val_gap must be an int >= 0; got {val_gap!r}")
    known = set(task.group_names)
    unknown = [g for g in train_groups if g not in known]
    if unknown or not train_groups:
        raise ValueError(f"train_groups must be a non-empty subset of {sorted(known)}; got "
                         f"unknown {unknown or list(train_groups)}")
    out = []
    for group in train_groups:
        rows = np.flatnonzero(task.groups == group)
        blocks = group_partition(task.labels[rows], val_fraction=val_fraction,
                                 contiguous_val=True)
        train, val = [], []
        for block in blocks:
            cut = len(block.train_indices) - min(val_gap, len(block.train_indices) - 1)
            train.append(block.train_indices[:cut])
            val.append(block.val_indices)
        train_idx, val_idx = rows[np.sort(np.concatenate(train))], rows[np.sort(
            np.concatenate(val))]
        if not len(val_idx):
            raise ValueError(f"group {group!r} has too few windows ({len(rows)}) for a "
                             f"validation split of val_fraction={val_fraction}")
        out.append(ClientDataset(x_all[train_idx], task.labels[train_idx], x_all[val_idx],
                                 task.labels[val_idx]))
    return out
