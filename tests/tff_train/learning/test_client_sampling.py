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


def test_poisson_sampling_draws_each_client_with_the_rate():
    import numpy as np

    from tff_train.learning.client_sampling import poisson_sample_clients, round_clients

    draws = [poisson_sample_clients(1000, 0.1, seed=2, round_num=r) for r in range(1, 41)]
    sizes = np.array([len(d) for d in draws])
    assert 90 < sizes.mean() < 110 and sizes.std() > 3  # the round size varies (binomial)
    assert all(list(d) == sorted(set(d)) for d in draws)
    np.testing.assert_array_equal(draws[0], poisson_sample_clients(1000, 0.1, 2, 1))
    assert list(poisson_sample_clients(5, 1.0, 0, 1)) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(round_clients(1000, 100, 2, 1, "poisson"), draws[0])
    np.testing.assert_array_equal(round_clients(10, 4, 3, 5), sample_clients(10, 4, 3, 5))
    with pytest.raises(ValueError, match=r"sampling must be 'uniform' or 'poisson'; got 'all'"):
        round_clients(10, 4, 3, 5, "all")
    with pytest.raises(ValueError, match=r"sampling_rate must be in \(0, 1\]; got 1.5"):
        poisson_sample_clients(10, 1.5, 0, 1)
