"""pass@k matches its definition (the fraction of k-subsets holding a pass), exactly, on small cases."""

from __future__ import annotations

import itertools
import math

import pytest


@pytest.mark.parametrize("n, c", [(1, 0), (1, 1), (5, 0), (5, 2), (7, 3), (10, 10), (10, 1)])
def test_equals_the_fraction_of_subsets_with_a_pass(n, c):
    from evaluation.passk import pass_at_k

    samples = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(samples, k))
        exact = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)
    assert pass_at_k(n, c, n + 1) is None  # not estimated with fewer samples than k


def test_large_n_does_not_overflow_and_means_skip_short_problems():
    from evaluation.passk import mean_pass_at_k, pass_at_k

    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)
    assert pass_at_k(200, 20, 10) == pytest.approx(1 - math.comb(180, 10) / math.comb(200, 10))
    means = mean_pass_at_k([(1, 1), (1, 0), (5, 1)], [1, 5])
    assert means[1] == pytest.approx((1 + 0 + 0.2) / 3) and means[5] == pytest.approx(1.0)
    assert mean_pass_at_k([(1, 1)], [10]) == {10: None}
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
