"""Exact references for the pointer tasks: closed tour length, optimal TSP tours (brute force and a
vectorised Held-Karp), the nearest-neighbour heuristic and convex hulls in the paper's output order."""

from __future__ import annotations

import itertools

import numpy as np
import torch


def tour_length(points: torch.Tensor, tours: torch.Tensor) -> torch.Tensor:
    """Length of the closed tours ``tours`` (B, n) over ``points`` (B, n, d): the sum of the Euclidean
    distances between consecutive cities, including the edge from the last city back to the first.
    Unbatched ``points`` (n, d) and ``tours`` (n,) give a scalar."""
    if points.dim() == 2:
        return tour_length(points.unsqueeze(0), tours.unsqueeze(0))[0]
    ordered = torch.gather(points, 1, tours.unsqueeze(-1).expand(-1, -1, points.shape[-1]))
    return (ordered - ordered.roll(-1, dims=1)).norm(dim=-1).sum(1)


def distances(points: torch.Tensor) -> torch.Tensor:
    """Pairwise Euclidean distances (B, n, n)."""
    return (points.unsqueeze(2) - points.unsqueeze(1)).norm(dim=-1)


def canonical_tour(tours: torch.Tensor) -> torch.Tensor:
    """The same closed tours (B, n), rotated to start at city 0 and oriented so that the second city
    has a lower index than the last (every tour has exactly one such form)."""
    start = (tours == 0).long().argmax(1, keepdim=True)
    n = tours.shape[1]
    rolled = torch.gather(tours, 1, (start + torch.arange(n, device=tours.device)) % n)
    flip = rolled[:, 1] > rolled[:, -1]
    reversed_ = torch.cat([rolled[:, :1], rolled[:, 1:].flip(1)], 1)
    return torch.where(flip.unsqueeze(1), reversed_, rolled)


def brute_force_tsp(points: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimal tours (B, n) (canonical form) and lengths (B,) by trying all (n-1)! tours from city 0."""
    b, n = points.shape[:2]
    rest = torch.tensor(list(itertools.permutations(range(1, n))), dtype=torch.long).reshape(-1, n - 1)
    cand = torch.cat([torch.zeros(len(rest), 1, dtype=torch.long), rest], 1).to(points.device)
    best_len = torch.full((b,), float("inf"), dtype=points.dtype, device=points.device)
    best = torch.zeros(b, n, dtype=torch.long, device=points.device)
    for s in range(0, b, max(1, chunk // len(cand))):
        p = points[s : s + max(1, chunk // len(cand))]
        m = p.shape[0]
        lengths = tour_length(p.repeat_interleave(len(cand), 0), cand.repeat(m, 1)).reshape(m, -1)
        val, idx = lengths.min(1)
        best_len[s : s + m], best[s : s + m] = val, cand[idx]
    return canonical_tour(best), best_len


def held_karp(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimal tours (B, n) (canonical form) and lengths (B,) by Held-Karp dynamic programming,
    vectorised over the batch and over the last city of each subset: O(2^n n^2) work, one tensor op per
    subset. ``dp[S, j]``: the shortest path from city 0 through the cities of ``S`` (a subset of
    1..n-1, as a bit mask) ending at ``j``."""
    b, n = points.shape[:2]
    if n <= 2:
        return torch.arange(n, device=points.device).expand(b, n).clone(), tour_length(
            points, torch.arange(n, device=points.device).expand(b, n)
        )
    d = distances(points)
    m = n - 1
    inner = d[:, 1:, 1:]  # (B, m, m)
    dp = torch.full((b, 1 << m, m), float("inf"), dtype=points.dtype, device=points.device)
    parent = torch.zeros((b, 1 << m, m), dtype=torch.long, device=points.device)
    for j in range(m):
        dp[:, 1 << j, j] = d[:, 0, j + 1]
    for s in range(1, 1 << m):
        js = [j for j in range(m) if s >> j & 1]
        if len(js) < 2:
            continue
        jt = torch.tensor(js, device=points.device)
        prev = torch.tensor([s ^ (1 << j) for j in js], device=points.device)
        cand = dp[:, prev, :] + inner[:, :, jt].transpose(1, 2)  # (B, |S|, m): via k, then to j
        val, arg = cand.min(-1)
        dp[:, s, jt], parent[:, s, jt] = val, arg
    full = (1 << m) - 1
    total, last = (dp[:, full, :] + d[:, 1:, 0]).min(-1)
    rows = torch.arange(b, device=points.device)
    tour = [last]
    mask = torch.full((b,), full, dtype=torch.long, device=points.device)
    for _ in range(m - 1):
        j = tour[-1]
        k = parent[rows, mask, j]
        mask = mask ^ (1 << j)
        tour.append(k)
    cities = torch.stack([torch.zeros_like(last), *(t + 1 for t in reversed(tour))], 1)
    return canonical_tour(cities), total


def nearest_neighbour_tour(points: torch.Tensor) -> torch.Tensor:
    """The nearest-neighbour heuristic from city 0 (B, n): always go to the closest unvisited city."""
    b, n = points.shape[:2]
    d = distances(points)
    rows = torch.arange(b, device=points.device)
    visited = torch.zeros(b, n, dtype=torch.bool, device=points.device)
    cur = torch.zeros(b, dtype=torch.long, device=points.device)
    tour = [cur]
    visited[rows, cur] = True
    for _ in range(n - 1):
        cur = d[rows, cur].masked_fill(visited, float("inf")).argmin(-1)
        visited[rows, cur] = True
        tour.append(cur)
    return torch.stack(tour, 1)


def convex_hull_order(points: np.ndarray | torch.Tensor) -> list[int]:
    """Indices of the convex hull's vertices of ``points`` (n, 2) in the paper's output order: starting
    at the vertex with the lowest index, counter-clockwise (Qhull through ``scipy.spatial.ConvexHull``;
    points on an edge but not at a corner are not vertices)."""
    from scipy.spatial import ConvexHull

    pts = np.asarray(points.cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64)
    vertices = [int(v) for v in ConvexHull(pts).vertices]  # counter-clockwise for 2-D input
    first = vertices.index(min(vertices))
    return vertices[first:] + vertices[:first]
