"""The paper's claim at small scale: DIN's activation unit beats sum pooling (Embedding&MLP) on AUC when a
click depends on one past behaviour. Planted-interaction data of the struct kit, 3 seeds, both models with
the same embeddings, MLP, optimiser, batches and steps."""

import pytest
import torch
import torch.nn.functional as F
from paperzoo_struct.data import generate
from paperzoo_struct.fields import SumPoolingMLP
from paperzoo_struct.metrics import auc

from paperzoo_din.model import DinModel

DATA = {"n_samples": 20000, "n_users": 100, "n_items": 100, "n_categories": 10}
EPOCHS, BATCH, LR = 8, 256, 3e-3


def _val_auc(kind: str, seed: int) -> tuple[float, float]:
    """Validation AUC of a model trained on the first 80%, and the AUC of the true click probability."""
    d = generate(**DATA, seed=seed)
    n_train = int(0.8 * len(d.y))
    torch.manual_seed(seed)
    sizes = {"vocab_sizes": d.vocab_sizes, "embedding_dim": 8, "hidden": (64, 32)}
    model = DinModel(**sizes, attention_hidden=(36,)) if kind == "din" else SumPoolingMLP(**sizes)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    g = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        perm = torch.randperm(n_train, generator=g)
        for start in range(0, n_train, BATCH):
            idx = perm[start : start + BATCH]
            loss = F.cross_entropy(model(d.x[idx]), d.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(d.x[n_train:])
    return auc(logits[:, 1] - logits[:, 0], d.y[n_train:]), auc(d.p[n_train:], d.y[n_train:])


@pytest.mark.claim
def test_din_auc_beats_sum_pooling(record_property):
    din, base, bayes = [], [], []
    for seed in range(3):
        a, ceiling = _val_auc("din", seed)
        din.append(a)
        base.append(_val_auc("sum", seed)[0])
        bayes.append(ceiling)
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    record_property("auc_din_mean", round(mean(din), 4))
    record_property("auc_sum_pooling_mean", round(mean(base), 4))
    record_property("auc_true_probability_mean", round(mean(bayes), 4))
    assert all(a > b for a, b in zip(din, base)), f"DIN {din} vs sum pooling {base}"
    assert mean(din) - mean(base) > 0.02, f"DIN {din} vs sum pooling {base}"
