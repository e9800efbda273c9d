"""Tests for emodata.partitioning: Dirichlet label-skewed clients and one-client-per-id."""

from __future__ import annotations

import numpy as np
import pytest

from emodata.partitioning import ClientPartition, dirichlet_partition, group_partition


def balanced_labels(n: int = 2100, classes: int = 7) -> np.ndarray:
    return np.random.default_rng(1).permutation(np.arange(n) % classes)


def all_indices(parts: list[ClientPartition]) -> np.ndarray:
    return np.concatenate([np.concatenate([p.train_indices, p.val_indices]) for p in parts])


def mean_label_entropy(parts: list[ClientPartition], labels: np.ndarray) -> float:
    entropies = []
    for p in parts:
        freq = np.bincount(labels[p.indices], minlength=labels.max() + 1) / len(p)
        freq = freq[freq > 0]
        entropies.append(float(-(freq * np.log(freq)).sum()))
    return float(np.mean(entropies))


def test_every_example_in_exactly_one_client():
    labels = balanced_labels()
    parts = dirichlet_partition(labels, 10, alpha=0.5, seed=3)
    assert [p.client_id for p in parts] == [str(k) for k in range(10)]
    np.testing.assert_array_equal(np.sort(all_indices(parts)), np.arange(len(labels)))
    for p in parts:
        assert p.train_indices.dtype == np.int64
        assert not np.intersect1d(p.train_indices, p.val_indices).size
        assert np.all(np.diff(p.train_indices) > 0)


def test_deterministic_for_a_seed_and_different_across_seeds():
    labels = balanced_labels()
    a = dirichlet_partition(labels, 8, seed=7)
    b = dirichlet_partition(labels, 8, seed=7)
    c = dirichlet_partition(labels, 8, seed=8)
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa.train_indices, pb.train_indices)
        np.testing.assert_array_equal(pa.val_indices, pb.val_indices)
    assert any(len(pa) != len(pc) for pa, pc in zip(a, c, strict=True))


def test_small_alpha_skews_labels_more_than_large_alpha():
    labels = balanced_labels()
    skewed = mean_label_entropy(dirichlet_partition(labels, 10, alpha=0.1, seed=0), labels)
    near_iid = mean_label_entropy(dirichlet_partition(labels, 10, alpha=100.0, seed=0), labels)
    assert near_iid > 0.95 * np.log(7)  # almost uniform over the 7 classes
    assert skewed < 0.6 * near_iid


def test_every_client_non_empty_even_when_dirichlet_leaves_some_empty():
    labels = balanced_labels(n=60, classes=3)
    parts = dirichlet_partition(labels, 30, alpha=0.01, seed=0, min_client_size=2)
    assert min(len(p) for p in parts) >= 2
    np.testing.assert_array_equal(np.sort(all_indices(parts)), np.arange(60))


def test_local_validation_split_fraction_and_independence_from_membership():
    labels = balanced_labels()
    with_val = dirichlet_partition(labels, 5, val_fraction=0.2, seed=1)
    without = dirichlet_partition(labels, 5, val_fraction=0.0, seed=1)
    for a, b in zip(with_val, without, strict=True):
        assert len(a.val_indices) == round(0.2 * len(a))
        assert len(b.val_indices) == 0
        np.testing.assert_array_equal(a.indices, b.indices)  # same members


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_clients": 0}, r"num_clients must be an integer in \[1, N=21\]; got 0"),
        ({"num_clients": 22}, r"num_clients must be an integer in \[1, N=21\]; got 22"),
        ({"num_clients": 3, "alpha": 0.0}, "alpha must be a finite number > 0; got 0.0"),
        ({"num_clients": 3, "alpha": float("inf")}, "alpha must be a finite number > 0"),
        ({"num_clients": 3, "val_fraction": 1.0}, r"val_fraction must lie in \[0, 1\); got 1.0"),
        ({"num_clients": 3, "min_client_size": 8}, "min_client_size must be >= 1 with"),
    ],
)
def test_dirichlet_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dirichlet_partition(balanced_labels(n=21), **kwargs)


def test_labels_must_be_non_negative_ints():
    with pytest.raises(ValueError, match=r"labels must be int\[N\]; got float64"):
        dirichlet_partition(np.zeros(5), 2)
    with pytest.raises(ValueError, match="labels must be >= 0; got minimum -1"):
        dirichlet_partition(np.array([0, -1, 2]), 2)


def test_group_partition_one_client_per_id():
    ids = np.array([17, 2, 2, 17, 5, 2, 17, 17])
    parts = group_partition(ids)
    assert [p.client_id for p in parts] == ["2", "5", "17"]
    np.testing.assert_array_equal(parts[0].train_indices, [1, 2, 5])
    np.testing.assert_array_equal(parts[2].indices, [0, 3, 6, 7])
    assert all(len(p.val_indices) == 0 for p in parts)
    names = group_partition(["drive05", "drive02", "drive05"])
    assert [p.client_id for p in names] == ["drive02", "drive05"]


def test_group_partition_contiguous_validation_takes_the_tail():
    ids = np.repeat([3, 4], 10)
    parts = group_partition(ids, val_fraction=0.3, contiguous_val=True)
    np.testing.assert_array_equal(parts[0].val_indices, [7, 8, 9])
    np.testing.assert_array_equal(parts[1].train_indices, np.arange(10, 17))
    random = group_partition(ids, val_fraction=0.3, seed=4)
    assert len(random[0].val_indices) == 3
    np.testing.assert_array_equal(
        random[0].val_indices, group_partition(ids, val_fraction=0.3, seed=4)[0].val_indices
    )


def test_group_partition_validates():
    with pytest.raises(ValueError, match=r"ids must be a non-empty 1-D array; got shape \[0\]"):
        group_partition([])
    with pytest.raises(ValueError, match="val_fraction must lie in"):
        group_partition([1, 2], val_fraction=-0.1)
