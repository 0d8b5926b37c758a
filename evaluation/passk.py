"""pass@k: the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

With ``n`` samples of which ``c`` pass, the probability that at least one of ``k`` samples drawn
without replacement passes is ``1 - C(n - c, k) / C(n, k)``, computed as a product so that large
``n`` does not overflow. It needs ``n >= k``: with fewer samples pass@k is not estimated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The estimate for one problem (``None`` when ``n < k``).

    Raises:
        ValueError: ``c`` is not in ``0 .. n`` or ``k < 1``.
    """
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if n < k:
        return None
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int]) -> dict[int, float | None]:
    """Mean pass@k over problems, each ``(n, c)``; for each ``k``, over the problems with ``n >= k``."""
    counts = list(counts)
    out: dict[int, float | None] = {}
    for k in ks:
        values = [v for n, c in counts if (v := pass_at_k(n, c, k)) is not None]
        out[k] = float(np.mean(values)) if values else None
    return out
