"""The deterministic synthetic in-vehicle cohort: the embedded default data set (no downloads).

`generate_cohort(num_drivers, seed)` gives each driver (one federated client):
  * a labelled face set: `faces_per_class` 48x48 uint8 faces per FER7 expression, drawn with
    the driver's own face identity (emodata.synthetic_faces);
  * `episodes_per_driver` drives made of state segments (DRIVER_STATE3; every episode visits
    each state in a random order, `segment_s` seconds each, whole seconds), with raw streams
    (emodata.synthetic_physio: ecg 128 Hz, hr/eda/temp 4 Hz, resp 32 Hz, NaN dropouts) and
    camera frames at `frame_fps` whose expression follows the current state
    (STATE_EXPRESSIONS; each expression is held for 2-6 s).
Everything comes from `numpy.random.SeedSequence(seed)`; driver k uses child k of it, so it is
identical whatever `num_drivers` is, and its faces, episodes, streams and frames use separate
grandchildren. Arrays are bit-identical across runs for a given seed on one platform.

`face_dataset` and `physio_dataset` turn a cohort into what the federated trainers consume;
`cohort_summary` is the dict the README's first run prints.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from emocore.label_spaces import DRIVER_STATE3, FER7
from emocore.physio import (
    DEFAULT_CONFIG,
    PhysioFeatureConfig,
    Signal,
    extract_recording,
    feature_names,
)
from emodata.synthetic_faces import (
    FaceIdentity,
    RenderSettings,
    render_faces,
    sample_identity,
)
from emodata.synthetic_physio import (
    STREAM_RATES_HZ,
    DriverPhysiology,
    sample_physiology,
    simulate_streams,
)

# P(expression | state): rows DRIVER_STATE3, columns FER7 (by name, normalised below).
# A perfect expression classifier mapped to driver states (emocore.label_spaces) is right on
# ~87% of frames: 10-17% of the frames of each state show an expression of another state.
_STATE_EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {"neutral": 0.90, "happy": 0.04, "sad": 0.03, "surprise": 0.03},
    "positive": {"happy": 0.70, "surprise": 0.18, "neutral": 0.12},
    "negative": {"angry": 0.27, "disgust": 0.12, "fear": 0.14, "sad": 0.30, "neutral": 0.17},
}
STATE_EXPRESSIONS = np.array(
    [[_STATE_EXPRESSIONS[s].get(e, 0.0) for e in FER7.labels] for s in DRIVER_STATE3.labels]
)
_EXPRESSION_HOLD_S = (2.0, 6.0)


@dataclasses.dataclass(frozen=True)
class CohortConfig:
    """Size and pacing of the cohort; the defaults give ~10 min of streams per driver."""

    faces_per_class: int = 60
    episodes_per_driver: int = 2
    segment_s: tuple[int, int] = (60, 150)
    frame_fps: float = 1.0
    render: RenderSettings = RenderSettings()

    def __post_init__(self) -> None:
        for name in ("faces_per_class", "episodes_per_driver"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CohortConfig.{name} must be an int >= 1; got {value!r}")
        lo, hi = self.segment_s
        if not (isinstance(lo, int) and isinstance(hi, int) and 10 <= lo <= hi):
            raise ValueError(
                f"CohortConfig.segment_s must be whole seconds (low, high) with 10 <= low <= "
                f"high; got {self.segment_s!r}"
            )
        if not self.frame_fps >= 0:
            raise ValueError(f"CohortConfig.frame_fps must be >= 0; got {self.frame_fps!r}")


@dataclasses.dataclass(frozen=True)
class Segment:
    """A constant driver state over [start_s, end_s) seconds of an episode."""

    start_s: float
    end_s: float
    state: int  # DRIVER_STATE3 id


@dataclasses.dataclass(frozen=True, eq=False)
class Episode:
    """One drive: labelled segments, raw streams and camera frames on a shared clock (s)."""

    driver_id: int
    episode_id: int
    segments: tuple[Segment, ...]
    streams: dict[str, Signal]  # name -> Signal(values float64[N], rate_hz), NaN = dropout
    frames: np.ndarray  # uint8[T, 48, 48]
    frame_times_s: np.ndarray  # float64[T]
    frame_expressions: np.ndarray  # int64[T], FER7 ids

    @property
    def duration_s(self) -> float:
        return self.segments[-1].end_s

    def states_at(self, times_s: np.ndarray) -> np.ndarray:
        """DRIVER_STATE3 id `int64[N]` at `times_s: float[N]`; -1 outside [0, duration)."""
        times_s = np.asarray(times_s, dtype=np.float64)
        ends = np.array([s.end_s for s in self.segments])
        states = np.array([s.state for s in self.segments] + [-1], dtype=np.int64)
        out = states[np.searchsorted(ends, times_s, side="right")]
        return np.where(times_s < 0, -1, out)


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticDriver:
    """One driver (one federated client): identity, physiology, face set and episodes."""

    driver_id: int
    identity: FaceIdentity
    physiology: DriverPhysiology
    faces: np.ndarray  # uint8[7 * faces_per_class, 48, 48]
    face_labels: np.ndarray  # int64[7 * faces_per_class], FER7 ids
    episodes: tuple[Episode, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class SyntheticCohort:
    """A generated cohort and the arguments that reproduce it."""

    seed: int
    config: CohortConfig
    drivers: tuple[SyntheticDriver, ...]


class FaceDataset(NamedTuple):
    images: np.ndarray  # uint8[N, 48, 48]
    labels: np.ndarray  # int64[N], FER7 ids
    driver_ids: np.ndarray  # int64[N]


class PhysioDataset(NamedTuple):
    features: np.ndarray  # float32[W, F], columns feature_names(config)
    labels: np.ndarray  # int64[W], DRIVER_STATE3 ids
    driver_ids: np.ndarray  # int64[W]


def generate_cohort(
    num_drivers: int, seed: int, config: CohortConfig = CohortConfig()
) -> SyntheticCohort:
    """Generate `num_drivers` drivers deterministically from `seed` (see the module docstring)."""
    if isinstance(num_drivers, bool) or not isinstance(num_drivers, int) or num_drivers < 1:
        raise ValueError(f"num_drivers must be an int >= 1; got {num_drivers!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    if not isinstance(config, CohortConfig):
        raise ValueError(f"config must be a CohortConfig; got {type(config).__name__}")
    children = np.random.SeedSequence(seed).spawn(num_drivers)
    drivers = tuple(_driver(k, ss, config) for k, ss in enumerate(children))
    return SyntheticCohort(seed=seed, config=config, drivers=drivers)


def face_dataset(cohort: SyntheticCohort, include_frames: bool = False) -> FaceDataset:
    """Every driver's labelled face set (plus its episode frames when `include_frames`)."""
    _check_cohort(cohort)
    images, labels, ids = [], [], []
    for d in cohort.drivers:
        parts = [(d.faces, d.face_labels)]
        if include_frames:
            parts += [(e.frames, e.frame_expressions) for e in d.episodes]
        for x, y in parts:
            images.append(x)
            labels.append(y)
            ids.append(np.full(y.shape[0], d.driver_id, dtype=np.int64))
    return FaceDataset(
        np.concatenate(images).astype(np.uint8, copy=False),
        np.concatenate(labels).astype(np.int64, copy=False),
        np.concatenate(ids),
    )


def physio_dataset(
    cohort: SyntheticCohort,
    config: PhysioFeatureConfig = DEFAULT_CONFIG,
    min_purity: float = 0.0,
) -> PhysioDataset:
    """Sliding-window features of every episode, labelled with the window's majority state.

    The label is the state covering most of the window (ties -> the lower id); windows
    whose majority covers less than `min_purity` of the window are dropped (1.0 = only windows
    inside one segment).
    """
    _check_cohort(cohort)
    if not 0.0 <= min_purity <= 1.0:
        raise ValueError(f"min_purity must lie in [0, 1]; got {min_purity!r}")
    feats, labels, ids = [], [], []
    for d in cohort.drivers:
        for e in d.episodes:
            x, ends = extract_recording(e.streams, config)
            y, purity = _majority_states(e.segments, ends - config.window_s, ends)
            keep = purity >= min_purity - 1e-9
            feats.append(x[keep])
            labels.append(y[keep])
            ids.append(np.full(int(keep.sum()), d.driver_id, dtype=np.int64))
    width = len(feature_names(config))
    return PhysioDataset(
        np.concatenate(feats).reshape(-1, width).astype(np.float32, copy=False),
        np.concatenate(labels).astype(np.int64, copy=False),
        np.concatenate(ids).astype(np.int64, copy=False),
    )


def cohort_summary(cohort: SyntheticCohort) -> dict:
    """JSON-ready overview: drivers, faces per class, episodes, minutes per state, rates."""
    _check_cohort(cohort)
    faces = np.concatenate([d.face_labels for d in cohort.drivers])
    minutes = dict.fromkeys(DRIVER_STATE3.labels, 0.0)
    frames = 0
    for d in cohort.drivers:
        for e in d.episodes:
            frames += e.frames.shape[0]
            for s in e.segments:
                minutes[DRIVER_STATE3.labels[s.state]] += (s.end_s - s.start_s) / 60.0
    return {
        "seed": cohort.seed,
        "drivers": len(cohort.drivers),
        "faces_per_class": {
            name: int(np.count_nonzero(faces == i)) for i, name in enumerate(FER7.labels)
        },
        "episodes": sum(len(d.episodes) for d in cohort.drivers),
        "physio_minutes_per_state": {k: round(v, 2) for k, v in minutes.items()},
        "sample_rates_hz": dict(STREAM_RATES_HZ),
        "frame_fps": cohort.config.frame_fps,
        "episode_frames": frames,
    }


def _check_cohort(cohort: SyntheticCohort) -> None:
    if not isinstance(cohort, SyntheticCohort):
        raise ValueError(f"cohort must be a SyntheticCohort; got {type(cohort).__name__}")


def _driver(driver_id: int, ss: np.random.SeedSequence, config: CohortConfig) -> SyntheticDriver:
    id_ss, face_ss, *episode_ss = ss.spawn(2 + config.episodes_per_driver)
    id_rng = np.random.default_rng(id_ss)
    identity = sample_identity(id_rng)
    physiology = sample_physiology(id_rng)
    labels = np.repeat(np.arange(FER7.num_classes, dtype=np.int64), config.faces_per_class)
    faces = render_faces(identity, labels, np.random.default_rng(face_ss), config.render)
    episodes = tuple(
        _episode(driver_id, k, identity, physiology, es, config)
        for k, es in enumerate(episode_ss)
    )
    return SyntheticDriver(driver_id, identity, physiology, faces, labels, episodes)


def _episode(
    driver_id: int,
    episode_id: int,
    identity: FaceIdentity,
    physiology: DriverPhysiology,
    ss: np.random.SeedSequence,
    config: CohortConfig,
) -> Episode:
    plan_rng, physio_rng, frame_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    lo, hi = config.segment_s
    segments, start = [], 0.0
    for state in plan_rng.permutation(DRIVER_STATE3.num_classes):
        end = start + float(plan_rng.integers(lo, hi + 1))
        segments.append(Segment(start, end, int(state)))
        start = end
    streams = simulate_streams(
        physiology, [(s.start_s, s.end_s, s.state) for s in segments], physio_rng
    )
    episode = Episode(
        driver_id, episode_id, tuple(segments), streams,
        np.zeros((0, 48, 48), np.uint8), np.zeros(0), np.zeros(0, np.int64),
    )  # fmt: skip
    if config.frame_fps == 0:
        return episode
    times = np.arange(int(np.floor(episode.duration_s * config.frame_fps))) / config.frame_fps
    expressions = _frame_expressions(episode, times, frame_rng)
    frames = render_faces(identity, expressions, frame_rng, config.render)
    return dataclasses.replace(
        episode, frames=frames, frame_times_s=times, frame_expressions=expressions
    )


def _frame_expressions(
    episode: Episode, times: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """FER7 id per frame time: expressions held 2-6 s, drawn from P(expression | state)."""
    out = np.empty(times.shape[0], dtype=np.int64)
    states = episode.states_at(times)
    t_next, current, prev_state = -1.0, 0, -1
    for i, (t, state) in enumerate(zip(times.tolist(), states.tolist(), strict=True)):
        if t >= t_next or state != prev_state:
            current = int(rng.choice(FER7.num_classes, p=STATE_EXPRESSIONS[state]))
            t_next = t + rng.uniform(*_EXPRESSION_HOLD_S)
            prev_state = state
        out[i] = current
    return out


def _majority_states(
    segments: tuple[Segment, ...], starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Majority DRIVER_STATE3 id `int64[W]` and its covered fraction over [starts, ends)."""
    cover = np.zeros((starts.shape[0], DRIVER_STATE3.num_classes))
    for s in segments:
        overlap = np.minimum(ends, s.end_s) - np.maximum(starts, s.start_s)
        cover[:, s.state] += np.maximum(overlap, 0.0)
    label = np.argmax(cover, axis=1).astype(np.int64)  # ties -> the lower state id
    length = np.maximum(ends - starts, 1e-12)
    return label, cover[np.arange(label.shape[0]), label] / length
