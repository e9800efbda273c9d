"""Live physiological streams -> window features (the shared extractor) -> forest probabilities.

`PhysioStream` keeps one ring buffer per signal at the signal's native rate, holding exactly the
last window (`window_num_samples(window_s, rate)` samples). Samples arrive in packets with
their timestamps (`push`) and are placed on the signal's sample grid:
  * slot = round((t - t_next) * rate), t_next = time of the newest sample + 1 / rate (the grid
    re-anchors on every packet, so clock drift never accumulates); samples whose slot repeats
    or lies in the past are dropped ("out_of_order"); missing slots become NaN ("sensor_gap");
  * NaN / inf / out-of-range values (`valid_ranges`, e.g. hr outside the extractor's
    [hr_min_bpm, hr_max_bpm]) become NaN ("invalid_samples");
  * at feature time a signal whose newest sample is older than `silence_tolerance_s` gets the
    missing tail as NaN ("sensor_silent"), so a dead sensor turns its features NaN instead of
    freezing the last window.
Every anomaly is returned as an `Incident` (the real-time loop logs and counts them).
Windows follow `extract_recording`: the first ends `window_s` after the first sample, then
every `stride_s`; `compute_features` calls `emocore.physio.extract_window` on the buffers
(the ONE feature implementation). Bundles built on precomputed features (e.g. WESAD) take
feature vectors instead (`push_features`; inf -> NaN).
`predict` runs the physio TFLite model (`float32[1,F]` -> probabilities `float32[1,C]`), clips
and renormalises them and maps them to DRIVER_STATE3; its quality is the fraction of finite
features (all NaN -> no prediction: the modality is missing).
Per-driver calibration (when features.json has a `calibration`): one `PhysioStream` is one
session; `predict` feeds every window through an `emocore.calibration.SessionCalibration`
(the same code training ran, window by window) whose prior is the driver's persisted profile
(`driver_profile`) or else the bundle's population statistics. `session_stats()` returns what
to merge into the driver's profile at the end of the session.

features.json: `emocore.physio.PhysioSpec`; calibration: `emocore.calibration`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from emocore.calibration import ReferenceStats, SessionCalibration
from emocore.fusion import FusionConfig, model_output_probs
from emocore.label_spaces import get_label_space
from emocore.physio import (
    PRECOMPUTED,
    RAW_SIGNALS,
    SIGNAL_KINDS,
    PhysioSpec,
    Signal,
    default_valid_ranges,
    extract_window,
    window_num_samples,
)
from tflite_edge.bundle import Bundle
from tflite_edge.interpreter import TFLiteModel
from tflite_edge.sources import Incident


@dataclasses.dataclass(frozen=True)
class PhysioPrediction:
    """`probs: float64[C]` over the physio label space, `driver_state: float64[3]`, and
    `quality` = fraction of finite features in [0, 1]."""

    probs: np.ndarray
    driver_state: np.ndarray
    quality: float
    label_space: str


class SignalBuffer:
    """The last `capacity` samples of one signal at `rate_hz` (a ring; NaN = no sample)."""

    def __init__(self, rate_hz: float, capacity: int) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a finite number > 0; got {rate_hz!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1; got {capacity}")
        self.rate_hz = float(rate_hz)
        self.capacity = int(capacity)
        self._data = np.full(self.capacity, np.nan)
        self._size = 0
        self._pos = 0  # next write index
        self.next_time_s: float | None = None  # grid time of the next sample

    def __len__(self) -> int:
        return self._size

    @property
    def last_time_s(self) -> float | None:
        return None if self.next_time_s is None else self.next_time_s - 1.0 / self.rate_hz

    def append(self, values: np.ndarray) -> None:
        """Appends `values: float64[K]` (only the last `capacity` are kept)."""
        values = values[-self.capacity:]
        k = values.shape[0]
        end = self._pos + k
        if end <= self.capacity:
            self._data[self._pos:end] = values
        else:
            split = self.capacity - self._pos
            self._data[self._pos:] = values[:split]
            self._data[:k - split] = values[split:]
        self._pos = end % self.capacity
        self._size = min(self._size + k, self.capacity)

    def latest(self, n: int) -> np.ndarray:
        """The newest `min(n, len)` samples, oldest first (a copy)."""
        n = max(0, min(n, self._size))
        start = (self._pos - n) % self.capacity
        if start + n <= self.capacity:
            return self._data[start:start + n].copy()
        return np.concatenate((self._data[start:], self._data[:self._pos]))


class PhysioStream:
    """Ring buffers + window features + the physio model; see the module docstring."""

    def __init__(
        self,
        spec: PhysioSpec,
        model: TFLiteModel | None = None,
        *,
        label_space: str = "wesad3",
        valid_ranges: Mapping[str, tuple[float, float]] | None = None,
        silence_tolerance_s: float = 1.0,
        driver_profile: ReferenceStats | None = None,
    ) -> None:
        if not isinstance(spec, PhysioSpec):
            raise ValueError(f"spec must be a PhysioSpec; got {type(spec).__name__}")
        self.calibration = _session_calibration(spec, driver_profile)
        self.spec = spec
        self.label_space = get_label_space(label_space).name
        self.model = model
        if model is not None:
            _check_model(model, len(spec.feature_names), get_label_space(label_space).num_classes)
        if valid_ranges is None:
            valid_ranges = default_valid_ranges(spec.config) if spec.config else {}
        for name, (low, high) in valid_ranges.items():
            if name not in SIGNAL_KINDS or not low <= high:
                raise ValueError(f"valid_ranges must map signal kinds {list(SIGNAL_KINDS)} to "
                                 f"(low, high) with low <= high; got {name!r}: {(low, high)}")
        self.valid_ranges = dict(valid_ranges)
        if not (math.isfinite(silence_tolerance_s) and silence_tolerance_s > 0):
            raise ValueError(f"silence_tolerance_s must be a finite number > 0; "
                             f"got {silence_tolerance_s!r}")
        self.silence_tolerance_s = float(silence_tolerance_s)
        self.buffers: dict[str, SignalBuffer] = {}
        self._silent: set[str] = set()
        self._ignored: set[str] = set()
        self._first_time: float | None = None
        self._last_time_s = 0.0  # newest sample time seen (for incidents without a time)
        self._next_due: float | None = None
        self._pending: np.ndarray | None = None  # precomputed vector waiting to be used

    @classmethod
    def from_bundle(cls, bundle: Bundle, *, num_threads: int = 1,
                    **kwargs: Any) -> PhysioStream:
        """The stream of a loaded bundle's physio model, features.json and fusion label space."""
        if "physio" not in bundle.models:
            raise ValueError(f"bundle {str(bundle.directory)!r} has no physio model")
        spec = PhysioSpec.from_json_dict(bundle.features)
        spaces = dict(FusionConfig.from_json(bundle.fusion_json).modality_label_spaces)
        if "physio" not in spaces:
            raise ValueError("fusion.json has no label space for modality 'physio'")
        model = TFLiteModel(bundle.models["physio"], num_threads=num_threads)
        return cls(spec, model, label_space=spaces["physio"], **kwargs)

    # ------------------------------------------------------------------------ input

    def push(self, signal: str, values: np.ndarray, rate_hz: float,
             timestamps_s: np.ndarray | float) -> list[Incident]:
        """Adds samples `values: float[N]` of `signal` at `rate_hz`, taken at `timestamps_s`
        (`float[N]`, or the first sample's time for a regular packet). Returns the incidents.

        Raises ValueError for a malformed packet (shapes, a non-positive rate).
        """
        values = np.array(values, dtype=np.float64)  # a copy: invalid samples are overwritten
        if values.ndim != 1:
            raise ValueError(f"values of {signal!r} must be 1-D; got shape {list(values.shape)}")
        if isinstance(rate_hz, bool) or not (isinstance(rate_hz, int | float | np.number)
                                             and math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz of {signal!r} must be a finite number > 0; got {rate_hz!r}")
        rate = float(rate_hz)
        if np.ndim(timestamps_s) == 0:
            times = float(timestamps_s) + np.arange(values.shape[0]) / rate
        else:
            times = np.asarray(timestamps_s, dtype=np.float64)
            if times.shape != values.shape:
                raise ValueError(f"timestamps of {signal!r} must have shape {list(values.shape)}; "
                                 f"got {list(times.shape)}")
        if values.shape[0] == 0:
            return []
        finite_times = times[np.isfinite(times)]
        t_event = float(finite_times.max()) if finite_times.size else self._last_time_s
        self._last_time_s = max(self._last_time_s, t_event)
        where = f"physio:{signal}"
        if signal not in SIGNAL_KINDS:
            return self._ignore(signal, t_event, "unknown_signal",
                                f"unknown signal {signal!r}; expected one of {list(SIGNAL_KINDS)}")
        if self.spec.mode != RAW_SIGNALS:
            return self._ignore(signal, t_event, "unexpected_samples",
                                "the physio model takes precomputed features; raw samples of "
                                f"{signal!r} are ignored")
        config = self.spec.config
        assert config is not None  # guaranteed by PhysioSpec for raw_signals
        incidents: list[Incident] = []
        ok_time = np.isfinite(times)
        if not ok_time.all():
            incidents.append(Incident(t_event, "bad_timestamps", where,
                                      f"{int((~ok_time).sum())} samples without a finite "
                                      "timestamp dropped"))
            values, times = values[ok_time], times[ok_time]
            if values.shape[0] == 0:
                return incidents
        incidents += self._invalidate(values, times[-1], signal)
        buffer = self.buffers.get(signal)
        if buffer is not None and not math.isclose(buffer.rate_hz, rate, rel_tol=1e-6):
            incidents.append(Incident(times[-1], "rate_change", where,
                                      f"rate changed from {buffer.rate_hz:g} to {rate:g} Hz; "
                                      "buffer restarted"))
            buffer = None
        if buffer is None:
            n = window_num_samples(config.window_s, rate)
            buffer = self.buffers[signal] = SignalBuffer(rate, max(n, 1))
            buffer.next_time_s = float(times[0])
        incidents += self._place(buffer, values, times, signal)
        self._silent.discard(signal)
        if self._first_time is None:
            self._first_time = float(times[0])
            self._next_due = self._first_time + config.window_s
        return incidents

    def _ignore(self, signal: str, t: float, kind: str, detail: str) -> list[Incident]:
        if signal in self._ignored:
            return []
        self._ignored.add(signal)
        return [Incident(t, kind, f"physio:{signal}", detail + " (reported once)")]

    def _invalidate(self, values: np.ndarray, t: float, signal: str) -> list[Incident]:
        nan = np.isnan(values)
        inf = np.isinf(values)
        out = np.zeros_like(nan)
        if signal in self.valid_ranges:
            low, high = self.valid_ranges[signal]
            with np.errstate(invalid="ignore"):
                out = ~nan & ~inf & ((values < low) | (values > high))
        bad = nan | inf | out
        if not bad.any():
            return []
        values[bad] = np.nan
        parts = [f"{int(c.sum())} {name}" for name, c in
                 (("NaN", nan), ("inf", inf), ("out-of-range", out)) if c.any()]
        rng = self.valid_ranges.get(signal)
        detail = ", ".join(parts) + f" of {values.shape[0]} samples set invalid"
        if out.any() and rng is not None:
            detail += f" (valid range [{rng[0]:g}, {rng[1]:g}])"
        return [Incident(float(t), "invalid_samples", f"physio:{signal}", detail)]

    def _place(self, buffer: SignalBuffer, values: np.ndarray, times: np.ndarray,
               signal: str) -> list[Incident]:
        """Puts samples on the buffer's grid; NaN for missing slots."""
        incidents = []
        where = f"physio:{signal}"
        assert buffer.next_time_s is not None
        slots = np.rint((times - buffer.next_time_s) * buffer.rate_hz).astype(np.int64)
        keep = slots >= 0
        keep[1:] &= slots[1:] > np.maximum.accumulate(slots)[:-1]  # strictly increasing only
        if not keep.all():
            incidents.append(Incident(float(times[-1]), "out_of_order", where,
                                      f"{int((~keep).sum())} samples repeated or older than the "
                                      "newest one were dropped"))
            values, times, slots = values[keep], times[keep], slots[keep]
            if values.shape[0] == 0:
                return incidents
        total = int(slots[-1]) + 1
        missing = total - values.shape[0]
        if missing > 0:
            start = buffer.next_time_s
            incidents.append(Incident(float(times[-1]), "sensor_gap", where,
                                      f"{missing} samples ({missing / buffer.rate_hz:.3g} s) "
                                      f"missing after t={start - 1 / buffer.rate_hz:.3f} s"))
        offset = max(0, total - buffer.capacity)
        slots = slots[slots >= offset]
        out = np.full(total - offset, np.nan)
        out[slots - offset] = values[-slots.shape[0]:]
        buffer.append(out)
        buffer.next_time_s = float(times[-1]) + 1.0 / buffer.rate_hz
        return incidents

    def push_features(self, features: np.ndarray, timestamp_s: float) -> list[Incident]:
        """Adds a precomputed feature vector `float[F]` (order `spec.feature_names`)."""
        features = np.array(features, dtype=np.float32, copy=True)
        width = len(self.spec.feature_names)
        if features.shape != (width,):
            raise ValueError(f"features must have shape [{width}]; got {list(features.shape)}")
        if self.spec.mode != PRECOMPUTED:
            return self._ignore("<features>", timestamp_s, "unexpected_features",
                                "the physio model takes raw-signal window features; "
                                "precomputed vectors are ignored")
        incidents = []
        inf = np.isinf(features)
        if inf.any():
            features[inf] = np.nan
            incidents.append(Incident(float(timestamp_s), "invalid_features", "physio:features",
                                      f"{int(inf.sum())} inf features set to NaN"))
        self._pending = features
        return incidents

    # ------------------------------------------------------------------------ output

    def due(self, now_s: float) -> bool:
        """True when a new window (raw) or a new vector (precomputed) is ready at `now_s`."""
        if self.spec.mode == PRECOMPUTED:
            return self._pending is not None
        return self._next_due is not None and now_s >= self._next_due

    def compute_features(self, now_s: float) -> tuple[np.ndarray, list[Incident]]:
        """Features `float32[F]` of the window ending at `now_s`, and the incidents."""
        if self.spec.mode == PRECOMPUTED:
            features = self._pending if self._pending is not None else np.full(
                len(self.spec.feature_names), np.nan, dtype=np.float32)
            self._pending = None
            return features, []
        config = self.spec.config
        assert config is not None
        if self._next_due is not None:
            while self._next_due <= now_s:
                self._next_due += config.stride_s
        incidents = []
        signals = {}
        for name, buffer in self.buffers.items():
            n = window_num_samples(config.window_s, buffer.rate_hz)
            lag = now_s - (buffer.last_time_s if buffer.last_time_s is not None else now_s)
            tail = 0
            if lag > self.silence_tolerance_s:
                tail = min(int(math.floor(lag * buffer.rate_hz)), n)
                if name not in self._silent:
                    self._silent.add(name)
                    incidents.append(Incident(now_s, "sensor_silent", f"physio:{name}",
                                              f"no sample for {lag:.3g} s; the window's missing "
                                              "tail counts as invalid"))
            values = buffer.latest(n - tail)
            if tail:
                values = np.concatenate((values, np.full(tail, np.nan)))
            signals[name] = Signal(values, buffer.rate_hz)
        return extract_window(signals, config), incidents

    def predict(self, features: np.ndarray) -> PhysioPrediction | None:
        """Model probabilities for the session's next window `features: float32[F]`
        (calibrated first when the bundle calibrates); None when no feature is finite."""
        if self.model is None:
            raise ValueError("this PhysioStream has no model")
        features = np.asarray(features, dtype=np.float32).reshape(-1)
        if self.calibration is not None:
            features = self.calibration.apply(features)
        features = features.reshape(1, -1)
        finite = np.isfinite(features)
        if not finite.any():
            return None
        probs, state = model_output_probs(self.model.predict(features), self.label_space,
                                          "physio")
        return PhysioPrediction(probs, state, float(finite.mean()), self.label_space)


    def session_stats(self) -> ReferenceStats | None:
        """This session's reference windows (None without calibration): merge them into the
        driver's profile (`ReferenceStats.merge`) when the session ends."""
        return None if self.calibration is None else self.calibration.session_stats()


def _session_calibration(spec: PhysioSpec, driver_profile: ReferenceStats | None
                         ) -> SessionCalibration | None:
    """The session's calibration of `spec` (None when the model takes raw features)."""
    if driver_profile is not None and (not isinstance(driver_profile, ReferenceStats)
                                       or driver_profile.feature_names != spec.feature_names):
        raise ValueError(f"driver_profile must be ReferenceStats over the features.json "
                         f"feature_names {list(spec.feature_names)}; got "
                         f"{getattr(driver_profile, 'feature_names', driver_profile)!r}")
    if spec.calibration is None:
        if driver_profile is not None:
            raise ValueError("driver_profile was given but the bundle's physio model takes "
                             "uncalibrated features (features.json has no calibration)")
        return None
    if driver_profile is None and spec.calibration.prior == "driver_profile":
        raise ValueError("the bundle's physio model is calibrated against the driver's profile "
                         "(calibration prior 'driver_profile'): pass driver_profile")
    prior = driver_profile if driver_profile is not None else spec.require_population()
    return SessionCalibration(spec.calibration, prior)


def _check_model(model: TFLiteModel, width: int, num_classes: int) -> None:
    (inp,), (out,) = model.input_details, model.output_details
    if [int(d) for d in inp["shape"]] != [1, width]:
        raise ValueError(f"physio model input must have shape [1,{width}] (features.json "
                         f"feature_names); got {list(inp['shape'])}")
    if [int(d) for d in out["shape"]] != [1, num_classes]:
        raise ValueError(f"physio model output must have shape [1,{num_classes}]; got "
                         f"{list(out['shape'])}")
