"""Seeded random streams, and the few distributions the standard library lacks.

Every source draws from its own stream named after it, so adding a column to one source never
changes another source's data, and the global RNG is never touched.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


def stream(seed: int, name: str) -> random.Random:
    """An independent, reproducible stream: string seeds hash with SHA-512, not PYTHONHASHSEED."""
    return random.Random(f"lscp-generate:{seed}:{name}")


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count (exact for small means, normal approximation for large ones)."""
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Weighted(Generic[T]):
    """A reusable weighted choice (cumulative weights computed once: it is called per row)."""

    def __init__(self, weights: dict[T, float] | Sequence[tuple[T, float]]):
        pairs = list(weights.items()) if isinstance(weights, dict) else list(weights)
        self.items = [item for item, _ in pairs]
        self.cumulative = list(itertools.accumulate(w for _, w in pairs))

    def __call__(self, rng: random.Random) -> T:
        x = rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_right(self.cumulative, x)]


def chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def clamp(x: float, low: float, high: float) -> float:
    return max(low, min(high, x))
