"""Parity of the k-means codebook initialisation with scikit-learn's ``KMeans`` (Lloyd, the same initial
centres, one run). No official JLCM code is published, so the joint learning itself has no reference."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from paperzoo_jlcm.jlcm import kmeans_1d, quantile_init


@pytest.mark.parametrize("k", [2, 4, 8, 16])
def test_kmeans_matches_sklearn_on_the_same_init(k, record_property):
    g = torch.Generator().manual_seed(k)
    x = torch.cat(
        [
            torch.randn(3000, generator=g, dtype=torch.float64),
            4 + 0.3 * torch.randn(500, generator=g, dtype=torch.float64),
        ]
    )
    init = quantile_init(x, k)
    centres, labels = kmeans_1d(x, init)
    ref = KMeans(k, init=init.numpy()[:, None], n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(
        x.numpy()[:, None]
    )
    err = float(np.abs(centres.numpy() - ref.cluster_centers_[:, 0]).max())
    record_property(f"kmeans_centres_max_abs_diff_k{k}", err)
    assert err < 1e-12
    assert np.array_equal(labels.numpy(), ref.labels_)
    assert len(torch.unique(labels)) == k  # no empty cluster: sklearn would relocate one, this keeps it
