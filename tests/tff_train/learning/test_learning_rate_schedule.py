"""The client learning-rate schedule across rounds."""

from __future__ import annotations

import math

import pytest

from tff_train.learning.learning_rate_schedule import scheduled_learning_rate


def test_constant_and_cosine_values():
    assert [scheduled_learning_rate(0.1, r, 4, "constant") for r in range(4)] == [0.1] * 4
    cosine = [scheduled_learning_rate(0.1, r, 4, "cosine") for r in range(4)]
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * r / 4)) for r in range(4)]
    assert cosine == pytest.approx(expected)
    assert cosine[0] == pytest.approx(0.1) and cosine[-1] > 0
    assert all(a > b for a, b in zip(cosine, cosine[1:], strict=False))


@pytest.mark.parametrize(("args", "message"), [
    ((0.1, 0, 4, "step"), r"schedule must be one of \['constant', 'cosine'\]; got 'step'"),
    ((0.0, 0, 4, "cosine"), "base must be > 0; got 0.0"),
    ((0.1, 0, 0, "cosine"), "rounds must be >= 1; got 0"),
    ((0.1, 4, 4, "cosine"), r"round_index must be in \[0, 4\); got 4"),
])
def test_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        scheduled_learning_rate(*args)
