"""Parity of the metrics with scikit-learn (``roc_auc_score``, ``log_loss``)."""

import torch
from sklearn.metrics import log_loss, roc_auc_score

from paperzoo_struct.metrics import auc, logloss


def test_auc_matches_sklearn_with_ties(record_property):
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for n in (10, 101, 5000):
        scores = torch.randint(0, 20, (n,), generator=g).double() / 7  # many ties
        labels = torch.randint(2, (n,), generator=g)
        worst = max(worst, abs(auc(scores, labels) - roc_auc_score(labels.numpy(), scores.numpy())))
        cont = torch.randn(n, generator=g, dtype=torch.float64)
        worst = max(worst, abs(auc(cont, labels) - roc_auc_score(labels.numpy(), cont.numpy())))
    record_property("auc_max_abs_diff_vs_sklearn", worst)
    assert worst < 1e-12


def test_logloss_matches_sklearn():
    g = torch.Generator().manual_seed(1)
    z = 3 * torch.randn(500, generator=g, dtype=torch.float64)
    y = torch.randint(2, (500,), generator=g)
    expected = log_loss(y.numpy(), torch.sigmoid(z).numpy())
    assert abs(logloss(z, y) - expected) < 1e-10
