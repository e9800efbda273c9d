import json

import numpy as np
import pytest

from emocore.label_spaces import DRIVER_STATE3, FER7
from emocore.physio import PhysioFeatureConfig, feature_names
from emodata.synthetic_cohort import (
    STATE_EXPRESSIONS,
    CohortConfig,
    cohort_summary,
    face_dataset,
    generate_cohort,
    physio_dataset,
)
from emodata.synthetic_physio import STREAM_RATES_HZ

SMALL = CohortConfig(faces_per_class=10, episodes_per_driver=1, segment_s=(60, 90), frame_fps=0.5)


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(3, seed=7, config=SMALL)


def all_arrays(c):
    for d in c.drivers:
        yield d.faces
        yield d.face_labels
        for e in d.episodes:
            yield e.frames
            yield e.frame_expressions
            for values, _ in e.streams.values():
                yield values


def test_same_seed_is_bit_identical_other_seed_differs(cohort):
    again = generate_cohort(3, seed=7, config=SMALL)
    for a, b in zip(all_arrays(cohort), all_arrays(again), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    other = generate_cohort(3, seed=8, config=SMALL)
    assert not np.array_equal(cohort.drivers[0].faces, other.drivers[0].faces)
    hr_a = cohort.drivers[0].episodes[0].streams["hr"].values
    hr_b = other.drivers[0].episodes[0].streams["hr"].values
    assert not np.array_equal(hr_a[:100], hr_b[:100], equal_nan=True)


def test_a_driver_does_not_depend_on_the_cohort_size(cohort):
    one = generate_cohort(1, seed=7, config=SMALL)
    np.testing.assert_array_equal(one.drivers[0].faces, cohort.drivers[0].faces)
    np.testing.assert_array_equal(
        one.drivers[0].episodes[0].streams["eda"].values,
        cohort.drivers[0].episodes[0].streams["eda"].values,
    )


def test_shapes_dtypes_and_ranges(cohort):
    assert [d.driver_id for d in cohort.drivers] == [0, 1, 2]
    for d in cohort.drivers:
        assert d.faces.shape == (70, 48, 48) and d.faces.dtype == np.uint8
        assert d.face_labels.dtype == np.int64
        np.testing.assert_array_equal(np.bincount(d.face_labels), [10] * 7)
        (e,) = d.episodes
        assert sorted(s.state for s in e.segments) == [0, 1, 2]
        assert e.segments[0].start_s == 0.0
        for a, b in zip(e.segments, e.segments[1:], strict=False):
            assert a.end_s == b.start_s and 60 <= a.end_s - a.start_s <= 90
        for name, (values, rate) in e.streams.items():
            assert rate == STREAM_RATES_HZ[name]
            assert values.shape == (round(e.duration_s * rate),), name
        assert e.frames.shape == (int(e.duration_s * 0.5), 48, 48)
        assert e.frames.dtype == np.uint8
        np.testing.assert_allclose(np.diff(e.frame_times_s), 2.0)
        eda = e.streams["eda"].values
        assert np.nanmin(eda) > 0.0 and np.nanmax(eda) < 50.0
        temp = e.streams["temp"].values
        assert np.nanmin(temp) > 28.0 and np.nanmax(temp) < 38.0


def test_labels_are_aligned_in_time(cohort):
    e = cohort.drivers[0].episodes[0]
    s0, s1 = e.segments[0], e.segments[1]
    times = np.array([-1.0, 0.0, s0.end_s - 1e-6, s1.start_s, s1.end_s - 1e-6, e.duration_s])
    np.testing.assert_array_equal(e.states_at(times), [-1, s0.state, s0.state, s1.state,
                                                       s1.state, -1])  # fmt: skip
    # Frame expressions are possible under the state at the frame time.
    states = e.states_at(e.frame_times_s)
    assert (STATE_EXPRESSIONS[states, e.frame_expressions] > 0).all()


def test_expressions_follow_the_state(cohort):
    frames = [(e.states_at(e.frame_times_s), e.frame_expressions)
              for d in cohort.drivers for e in d.episodes]  # fmt: skip
    states = np.concatenate([s for s, _ in frames])
    expr = np.concatenate([x for _, x in frames])
    neutral = FER7.index("neutral")
    assert (expr[states == DRIVER_STATE3.index("neutral")] == neutral).mean() > 0.6
    positive = expr[states == DRIVER_STATE3.index("positive")]
    assert np.isin(positive, [FER7.index("happy"), FER7.index("surprise")]).mean() > 0.5


def test_state_changes_the_physiology_across_the_cohort():
    c = generate_cohort(6, seed=11, config=CohortConfig(faces_per_class=1, frame_fps=0))
    neutral, negative = DRIVER_STATE3.index("neutral"), DRIVER_STATE3.index("negative")
    # Raw device HR: per-driver mean over negative segments minus over neutral segments.
    deltas = []
    for d in c.drivers:
        values, rate = d.episodes[0].streams["hr"]
        states = d.episodes[0].states_at(np.arange(values.shape[0]) / rate)
        delta = np.nanmean(values[states == negative]) - np.nanmean(values[states == neutral])
        deltas.append(delta)
    assert np.mean(deltas) > 3.0
    # Window features move the documented way on average.
    p = physio_dataset(c, min_purity=1.0)
    names = feature_names()
    for feature, sign in [("hr_mean_bpm", 1), ("resp_rate_per_min", 1), ("eda_scr_count", 1),
                          ("hrv_rmssd_ms", -1), ("temp_slope_per_min", -1)]:  # fmt: skip
        col = p.features[:, names.index(feature)]
        diff = np.nanmean(col[p.labels == negative]) - np.nanmean(col[p.labels == neutral])
        assert sign * diff > 0, feature


def test_face_dataset(cohort):
    ds = face_dataset(cohort)
    assert ds.images.shape == (210, 48, 48) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64 and ds.driver_ids.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ds.driver_ids), [70, 70, 70])
    with_frames = face_dataset(cohort, include_frames=True)
    frames = sum(e.frames.shape[0] for d in cohort.drivers for e in d.episodes)
    assert with_frames.images.shape[0] == 210 + frames
    images, labels, driver_ids = ds  # unpacks like a tuple
    assert images is ds.images


def test_physio_dataset_windows_and_purity(cohort):
    cfg = PhysioFeatureConfig(stride_s=10.0)
    ds = physio_dataset(cohort, cfg)
    assert ds.features.dtype == np.float32 and ds.features.shape[1] == len(feature_names(cfg))
    assert ds.labels.dtype == np.int64 and set(np.unique(ds.labels)) <= {0, 1, 2}
    assert set(np.unique(ds.driver_ids)) == {0, 1, 2}
    assert np.isfinite(ds.features).mean() > 0.9
    pure = physio_dataset(cohort, cfg, min_purity=1.0)
    assert 0 < pure.features.shape[0] < ds.features.shape[0]
    # Expected count of windows inside one segment: floor((len - 60) / 10) + 1 per segment.
    expected = 0
    for d in cohort.drivers:
        for e in d.episodes:
            ends = np.arange(60.0, e.duration_s + 1e-9, 10.0)
            for s in e.segments:
                expected += int(np.sum((ends - 60.0 >= s.start_s) & (ends <= s.end_s)))
    assert pure.features.shape[0] == expected


def test_summary_is_json_ready(cohort):
    s = cohort_summary(cohort)
    json.dumps(s)
    assert s["drivers"] == 3 and s["episodes"] == 3 and s["seed"] == 7
    assert s["faces_per_class"] == dict.fromkeys(FER7.labels, 30)
    total = sum(e.duration_s for d in cohort.drivers for e in d.episodes) / 60.0
    assert sum(s["physio_minutes_per_state"].values()) == pytest.approx(total, abs=0.05)
    assert s["sample_rates_hz"] == STREAM_RATES_HZ


def test_faces_are_learnable_but_not_trivially():
    """Logistic regression on 12x12 pixels, one held-out driver: well above chance, not 100%."""
    from sklearn.linear_model import LogisticRegression

    c = generate_cohort(5, seed=0, config=CohortConfig(faces_per_class=40, frame_fps=0,
                                                       episodes_per_driver=1))  # fmt: skip
    ds = face_dataset(c)
    x = ds.images.reshape(-1, 12, 4, 12, 4).mean((2, 4)).reshape(ds.images.shape[0], -1)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    test = ds.driver_ids == 4
    model = LogisticRegression(max_iter=200, C=0.05).fit(x[~test], ds.labels[~test])
    acc = (model.predict(x[test]) == ds.labels[test]).mean()
    assert 2.0 / 7.0 < acc < 0.95


def test_physio_is_learnable_for_held_out_drivers():
    """Per-driver standardised features + logistic regression beat chance on unseen drivers."""
    from sklearn.linear_model import LogisticRegression

    c = generate_cohort(8, seed=0, config=CohortConfig(faces_per_class=1, frame_fps=0,
                                                       episodes_per_driver=1))  # fmt: skip
    ds = physio_dataset(c, min_purity=1.0)
    x = ds.features.astype(np.float64)
    for d in np.unique(ds.driver_ids):
        rows = ds.driver_ids == d
        x[rows] = (x[rows] - np.nanmean(x[rows], 0)) / (np.nanstd(x[rows], 0) + 1e-6)
    x = np.nan_to_num(x)
    test = ds.driver_ids >= 6
    model = LogisticRegression(max_iter=500).fit(x[~test], ds.labels[~test])
    acc = (model.predict(x[test]) == ds.labels[test]).mean()
    assert 0.55 < acc < 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_drivers": 0, "seed": 0}, "num_drivers must be an int >= 1; got 0"),
        ({"num_drivers": 2.0, "seed": 0}, "num_drivers must be an int >= 1"),
        ({"num_drivers": 2, "seed": -1}, "seed must be an int >= 0; got -1"),
        ({"num_drivers": 2, "seed": 0, "config": {}}, "config must be a CohortConfig"),
    ],
)
def test_generate_cohort_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_cohort(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"faces_per_class": 0}, "CohortConfig.faces_per_class must be an int >= 1"),
        ({"episodes_per_driver": 1.5}, "CohortConfig.episodes_per_driver must be an int"),
        ({"segment_s": (90, 60)}, "CohortConfig.segment_s must be whole seconds"),
        ({"segment_s": (5, 60)}, "CohortConfig.segment_s must be whole seconds"),
        ({"frame_fps": -1.0}, "CohortConfig.frame_fps must be >= 0"),
    ],
)
def test_cohort_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CohortConfig(**kwargs)


def test_dataset_helpers_reject_bad_arguments(cohort):
    with pytest.raises(ValueError, match="cohort must be a SyntheticCohort"):
        face_dataset([cohort])
    with pytest.raises(ValueError, match="cohort must be a SyntheticCohort"):
        cohort_summary(None)
    with pytest.raises(ValueError, match=r"min_purity must lie in \[0, 1\]; got 1.5"):
        physio_dataset(cohort, min_purity=1.5)


def test_expressions_tell_the_state_often_but_not_always():
    """A perfect expression classifier mapped to driver states is right on ~87% of frames in
    expectation (STATE_EXPRESSIONS): informative, yet a face-only model cannot be perfect."""
    from emocore.label_spaces import mapping_matrix

    to_state = mapping_matrix("fer7", "driver_state3")
    expected = (STATE_EXPRESSIONS @ to_state)[np.arange(3), np.arange(3)]
    assert expected.min() > 0.8 and expected.max() < 0.95
    c = generate_cohort(4, seed=3, config=CohortConfig(faces_per_class=1))
    states = np.concatenate([e.states_at(e.frame_times_s) for d in c.drivers for e in d.episodes])
    mapped = np.concatenate([to_state[e.frame_expressions].argmax(1)
                             for d in c.drivers for e in d.episodes])
    assert 0.75 < (mapped == states).mean() < 0.97
