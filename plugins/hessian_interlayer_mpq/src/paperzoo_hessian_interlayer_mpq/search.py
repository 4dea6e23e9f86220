"""Bisection over how many of the top-ranked layers stay at high precision."""

from __future__ import annotations

from collections.abc import Callable


def bisect_min_k(ok: Callable[[int], bool], n: int) -> tuple[int, bool, list[int]]:
    """The least ``k`` in ``[0, n]`` with ``ok(k)``, for ``ok`` monotone (false then true).

    Returns ``(k, met, evaluated)``: ``met`` is False (and ``k == n``) when even ``ok(n)`` fails;
    ``evaluated`` lists the ``k`` tried, at most ``ceil(log2(n + 1)) + 1`` of them."""
    tried: list[int] = [n]
    if not ok(n):
        return n, False, tried
    lo, hi = 0, n  # ok(hi) holds; every k < lo fails
    while lo < hi:
        mid = (lo + hi) // 2
        tried.append(mid)
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi, True, tried
