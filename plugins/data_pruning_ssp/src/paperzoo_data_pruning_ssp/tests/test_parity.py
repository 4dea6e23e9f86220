"""Parity of the SSP score with a per-example loop of the paper's definition.

The authors' repository (rgeirhos/dataset-pruning-metrics) releases precomputed ImageNet scores only, no
code, so the reference is the definition computed independently: k-means as Lloyd's algorithm written
here in numpy from scikit-learn's k-means++ seeding, then for each example a Python loop over the
centroids for ``1 - max_k cos(e_i, c_k)``; and the centroids of ``kmeans_centroids`` are a fixed point
of Lloyd's algorithm (each the mean of the rows nearest to it).
"""

import numpy as np
from sklearn.cluster import kmeans_plusplus

from paperzoo_data_pruning_ssp.prototypes import kmeans_centroids, normalize_rows, prototype_scores


def _embeddings() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 12))
    return np.concatenate([c + 0.4 * rng.standard_normal((30, 12)) for c in centres])


def _lloyd(e: np.ndarray, init: np.ndarray, iters: int = 300) -> np.ndarray:
    c = init.copy()
    for _ in range(iters):
        assign = ((e[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        new = np.stack([e[assign == k].mean(0) for k in range(len(c))])
        if np.array_equal(new, c):
            break
        c = new
    return c


def _loop_scores(e: np.ndarray, c: np.ndarray) -> np.ndarray:
    out = []
    for row in e:
        best = max(float(row @ ck / (np.linalg.norm(row) * np.linalg.norm(ck))) for ck in c)
        out.append(1.0 - best)
    return np.array(out)


def test_scores_match_a_loop_of_the_definition(record_property):
    e = normalize_rows(_embeddings())
    init, _ = kmeans_plusplus(e, n_clusters=5, random_state=0)
    reference = _loop_scores(e, _lloyd(e, init))
    ours = prototype_scores(e, n_clusters=5, seed=0, n_init=1)
    err = float(np.abs(ours - reference).max())
    record_property("max_abs_diff_float64", err)
    assert err < 1e-12, err


def test_centroids_are_a_fixed_point_of_lloyd():
    e = normalize_rows(_embeddings())
    c = kmeans_centroids(e, n_clusters=5, seed=0)
    assign = ((e[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
    means = np.stack([e[assign == k].mean(0) for k in range(5)])
    np.testing.assert_allclose(c, means, rtol=0, atol=1e-12)
