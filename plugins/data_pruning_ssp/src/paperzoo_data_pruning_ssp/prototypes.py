"""The self-supervised prototype (SSP) score of Sorscher, Geirhos et al. (2022).

Embed every training example with an encoder (in the paper a self-supervised SwAV ResNet-50), cluster
the embeddings with k-means, and score each example by its cosine distance to the nearest cluster
centroid (its prototype). Examples near a prototype are easy (redundant), far ones hard; a high score
means hard, the convention of the authors' released scores (their cosine *similarity* reversed) and of
the ``dataprune`` kit's selection rules.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

Metric = Literal["cosine", "euclidean"]


def _as_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def distance_to_nearest(
    embeddings: np.ndarray, centroids: np.ndarray, metric: Metric = "cosine"
) -> np.ndarray:
    """``min_k d(e_i, c_k)`` for each row ``e_i``: ``d`` the cosine distance ``1 - cos`` or the Euclidean one.

    :param embeddings: ``(N, D)``.
    :param centroids: ``(K, D)``.
    :returns: ``(N,)`` float64.
    """
    e, c = _as_numpy(embeddings), _as_numpy(centroids)
    if metric == "cosine":
        return 1.0 - (normalize_rows(e) @ normalize_rows(c).T).max(axis=1)
    if metric == "euclidean":
        sq = (e**2).sum(1)[:, None] - 2 * e @ c.T + (c**2).sum(1)[None, :]
        return np.sqrt(np.maximum(sq.min(axis=1), 0.0))
    raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")


def kmeans_centroids(embeddings: np.ndarray, n_clusters: int, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """scikit-learn ``KMeans(n_clusters, n_init, random_state=seed)`` centroids of the rows, ``(K, D)``."""
    from sklearn.cluster import KMeans

    e = _as_numpy(embeddings)
    if not 1 <= n_clusters <= len(e):
        raise ValueError(f"n_clusters={n_clusters} must lie in [1, {len(e)}] (the number of examples)")
    return KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(e).cluster_centers_


def prototype_scores(
    embeddings: np.ndarray | torch.Tensor,
    n_clusters: int,
    metric: Metric = "cosine",
    normalize: bool = True,
    seed: int = 0,
    n_init: int = 10,
    labels: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray:
    """SSP score of every row: the distance to the nearest k-means centroid (higher = harder).

    :param embeddings: ``(N, D)`` one embedding per example.
    :param n_clusters: ``k`` of k-means (the paper: on the order of the number of classes).
    :param metric: ``cosine`` (the paper) or ``euclidean``.
    :param normalize: cluster the L2-normalised embeddings (the paper clusters SwAV's normalised
        features); the distance is then computed on the same rows.
    :param seed: k-means' ``random_state``.
    :param n_init: k-means restarts (the best inertia wins).
    :param labels: when given, the "supervised prototypes" variant: the prototypes are the class means
        and each example is scored against its own class's prototype (``n_clusters`` is ignored).
    :returns: ``(N,)`` float64 scores, independent of the order of the rows for a fixed clustering.
    """
    e = _as_numpy(embeddings)
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) matrix, got shape {e.shape}")
    if normalize:
        e = normalize_rows(e)
    if labels is None:
        return distance_to_nearest(e, kmeans_centroids(e, n_clusters, seed, n_init), metric)
    y = _as_numpy(labels).astype(np.int64)
    out = np.empty(len(e))
    for c in np.unique(y):
        rows = y == c
        out[rows] = distance_to_nearest(e[rows], e[rows].mean(0, keepdims=True), metric)
    return out
