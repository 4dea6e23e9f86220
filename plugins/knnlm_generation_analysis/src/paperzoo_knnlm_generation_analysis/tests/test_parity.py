"""Parity with brute force (no official code or package implements these analyses): plain Python loops
over the datastore (every distance, a sort, per-token sums) give the same retrieval entropies, and a
per-token loop gives the same improved/worsened split."""

from __future__ import annotations

import math

import torch
from paperzoo_knn_lm.datastore import extract_keys

from paperzoo_knnlm_generation_analysis.analysis import split_deltas, token_deltas
from paperzoo_knnlm_generation_analysis.generation import entropies_by_position, generate
from paperzoo_knnlm_generation_analysis.tests.helpers import tiny_knnlm, tokens


def _brute_knn_entropy(
    query: list[float], keys: list[list[float]], values: list[int], k: int, tau: float
) -> float:
    dist = sorted((sum((a - b) ** 2 for a, b in zip(query, key)), v) for key, v in zip(keys, values))[:k]
    w = [math.exp(-d / tau) for d, _ in dist]
    z = math.fsum(w)
    mass: dict[int, float] = {}
    for wi, (_, v) in zip(w, dist):
        mass[v] = mass.get(v, 0.0) + wi / z
    return -math.fsum(p * math.log(p) for p in mass.values() if p > 0)


def test_retrieval_entropy_matches_brute_force(record_property):
    knnlm = tiny_knnlm(k=6, temperature=0.7)
    ids = generate(knnlm, tokens(2, 4, seed=11), 5, generator=torch.Generator().manual_seed(2))
    ent = entropies_by_position(knnlm, ids, 4)["knn"]
    h, _ = extract_keys(knnlm.model, ids[:, :-1], knnlm.key)
    keys, values = knnlm.datastore.keys.tolist(), knnlm.datastore.values.tolist()
    err = 0.0
    for b in range(ids.shape[0]):
        for j in range(5):
            ref = _brute_knn_entropy(h[b, 3 + j].tolist(), keys, values, 6, 0.7)
            err = max(err, abs(ref - float(ent[b, j])))
    record_property("max_abs_diff_entropy_float64", err)
    assert err < 1e-12


def test_delta_split_matches_per_token_loop(record_property):
    knnlm = tiny_knnlm(lam=0.4)
    x = tokens(3, 17, seed=9)
    lm, d, i = knnlm.neighbours(x[:, :-1])
    mixed = knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1]))
    s = split_deltas(token_deltas(lm, mixed, x[:, 1:]))
    up, down, n_up, n_down = [], [], 0, 0
    p_lm, p_mix = lm.double().exp(), mixed.exp()
    for b in range(3):
        for t in range(16):
            y = int(x[b, t + 1])
            delta = math.log(float(p_mix[b, t, y])) - math.log(float(p_lm[b, t, y]))
            (up if delta > 0 else down).append(delta)
    n_up, n_down = len(up), len(down)
    err = max(abs(s.improved - math.fsum(up)), abs(s.worsened - math.fsum(down)))
    record_property("max_abs_diff_delta_split_float64", err)
    assert (s.n_improved, s.n_worsened) == (n_up, n_down)
    assert err < 1e-12
