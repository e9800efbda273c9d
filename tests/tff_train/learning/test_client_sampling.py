"""Client sampling: seeded, sorted, validated."""

from __future__ import annotations

import pytest

from tff_train.learning.client_sampling import sample_clients


def test_sample_clients_is_deterministic_and_validated():
    a = sample_clients(10, 4, seed=3, round_num=5)
    assert list(a) == list(sample_clients(10, 4, seed=3, round_num=5))
    assert len(set(a)) == 4 and list(a) == sorted(a)
    assert any(list(sample_clients(10, 4, 3, r)) != list(a) for r in range(6, 12))
    with pytest.raises(ValueError, match=r"clients_per_round must be in \[1, 10\]; got 11"):
        sample_clients(10, 11, seed=0, round_num=1)
