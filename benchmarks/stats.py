"""Small statistics helpers."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """Half the interquartile range relative to the median (a robust ± in %)."""
    if len(values) < 3:
        return float("nan")
    q1, _, q3 = statistics.quantiles(values, n=4)
    mid = statistics.median(values)
    return 50.0 * (q3 - q1) / mid if mid else float("nan")
