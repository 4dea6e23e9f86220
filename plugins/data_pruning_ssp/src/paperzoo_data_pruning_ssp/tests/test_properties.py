"""Exact properties: prototype scores on hand-made clusters, order and scale invariance, the supervised
variant, the embedding hook; the simulation's closed forms."""

import math

import numpy as np
import pytest
import torch
from paperzoo.builtins.layers import MLP
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset

from paperzoo_data_pruning_ssp.embed import embed
from paperzoo_data_pruning_ssp.evaluators import SSLPrototypeScore
from paperzoo_data_pruning_ssp.prototypes import prototype_scores
from paperzoo_data_pruning_ssp.simulation import generalization_error, probe, pruning_error


def _two_clusters() -> tuple[np.ndarray, np.ndarray]:
    """Two clusters of unit vectors in the plane, symmetric about the angles 0 and pi/2, so that each
    cluster's (unnormalised) mean points exactly at its centre angle. Returns (points, angle offsets)."""
    offsets = np.array([0.0, 0.1, -0.1, 0.3, -0.3])
    angles = np.concatenate([offsets, np.pi / 2 + offsets])
    return np.stack([np.cos(angles), np.sin(angles)], 1), np.concatenate([offsets, offsets])


def test_scores_on_hand_made_clusters_are_the_closed_form():
    """Cosine distance to the nearest prototype = 1 - cos(offset from the cluster's centre angle)."""
    points, offsets = _two_clusters()
    scores = prototype_scores(points, n_clusters=2, seed=0)
    np.testing.assert_allclose(scores, 1.0 - np.cos(offsets), rtol=0, atol=1e-12)
    assert scores[0] == pytest.approx(0.0, abs=1e-12) and scores[3] > scores[1] > scores[0]


def test_scores_are_invariant_to_data_order_and_scale():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 16)) * 5
    e = np.concatenate([c + rng.standard_normal((25, 16)) * 0.3 for c in centres])
    base = prototype_scores(e, n_clusters=4, seed=0)
    perm = rng.permutation(len(e))
    np.testing.assert_allclose(prototype_scores(e[perm], n_clusters=4, seed=0), base[perm], atol=1e-12)
    scale = rng.uniform(0.5, 3.0, (len(e), 1))  # cosine on normalised rows: per-row scale is invisible
    np.testing.assert_allclose(prototype_scores(e * scale, n_clusters=4, seed=0), base, atol=1e-12)


def test_supervised_prototypes_are_the_class_means():
    rng = np.random.default_rng(1)
    e, labels = rng.standard_normal((30, 5)), np.repeat([0, 1, 2], 10)
    scores = prototype_scores(e, 99, metric="euclidean", normalize=False, labels=labels)
    for i in range(30):
        mean = e[labels == labels[i]].mean(0)
        assert scores[i] == pytest.approx(float(np.linalg.norm(e[i] - mean)), abs=1e-12)


def test_penultimate_embedding_is_the_input_of_the_last_linear():
    torch.manual_seed(0)
    model = MLP(5, 3, [8, 6])
    x = torch.randn(20, 5)
    data = TensorDataset(x, torch.zeros(20, dtype=torch.long))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    captured = []
    handle = linears[-1].register_forward_hook(lambda m, a, out: captured.append(a[0]))
    with torch.no_grad():
        model(x)
    handle.remove()
    assert torch.equal(embed(model, data, "penultimate", batch_size=20), captured[0])
    # other batch sizes: the same rows up to float32 blocking of the matmuls
    torch.testing.assert_close(
        embed(model, data, "penultimate", batch_size=7), captured[0], rtol=0, atol=1e-6
    )
    assert embed(model, data, "penultimate").shape == (20, 6)
    assert torch.equal(embed(model, data, "input"), x)
    model.train()
    embed(model, data)
    assert model.training


def test_evaluator_scores_the_split_in_order_and_bad_params():
    points, offsets = _two_clusters()
    x = torch.tensor(points, dtype=torch.float32)
    data = DataBundle(
        TensorDataset(x, torch.zeros(10, dtype=torch.long)), None, "classification", num_classes=2
    )
    s = SSLPrototypeScore(n_clusters=2, layer="input").scores(torch.nn.Linear(2, 2), data)
    np.testing.assert_allclose(s.numpy(), 1.0 - np.cos(offsets), atol=1e-6)  # float32 inputs
    with pytest.raises(ValueError):
        SSLPrototypeScore(metric="manhattan")
    with pytest.raises(ValueError):
        prototype_scores(np.zeros((3, 2)), n_clusters=4)


def test_generalization_error_closed_form_and_probe_angle():
    rng = np.random.default_rng(0)
    t = rng.standard_normal(10)
    t /= np.linalg.norm(t)
    assert generalization_error(3 * t, t) == 0.0 and generalization_error(-t, t) == pytest.approx(1.0)
    for angle in (0.0, 0.4, math.pi / 2):
        p = probe(t, angle, rng)
        assert p @ t == pytest.approx(math.cos(angle), abs=1e-12)
        assert generalization_error(p, t) == pytest.approx(angle / math.pi, abs=1e-9)
    x = rng.standard_normal((200_000, 10))  # Monte-Carlo check of the closed form, 4 standard errors
    p = probe(t, 0.7, rng)
    mc = float(np.mean(np.sign(x @ p) != np.sign(x @ t)))
    assert abs(mc - 0.7 / math.pi) < 4 * math.sqrt(0.22 * 0.78 / 200_000)


def test_keeping_everything_makes_the_rules_identical():
    errors = {k: pruning_error(20, 3.0, 1.0, k, seed=5) for k in ("hard", "easy", "random")}
    assert errors["hard"] == errors["easy"] == errors["random"] < 0.5


def test_shared_trainer_keeps_the_examples_farthest_from_their_prototype():
    """``pruned_dataset_training`` with ``score: ssl_prototype_score`` (resolved through the registry)."""
    from paperzoo.trainer import Run
    from paperzoo_dataprune.trainer import PrunedDatasetTraining

    points, offsets = _two_clusters()
    x = torch.tensor(points, dtype=torch.float32).repeat(2, 1) * torch.arange(1, 21).float()[:, None]
    data = DataBundle(TensorDataset(x, torch.arange(20) % 2), None, "classification", num_classes=2)
    torch.manual_seed(0)
    model = MLP(2, 2, [4])
    run = Run(model=model, data=data, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), seed=0)
    params = {"n_clusters": 2, "layer": "input"}
    # offsets 0.3 (8 rows: the hard 40%) and 0 (4 rows: the easy 20%) are kept exactly, without ties
    for keep, prune, expected in (("hard", 0.6, [3, 4, 8, 9]), ("easy", 0.8, [0, 5])):
        trainer = PrunedDatasetTraining(
            score="ssl_prototype_score", score_params=params, keep=keep, prune_fraction=prune,
            batch_size=4, progress=False, device="cpu",
        )  # fmt: skip
        trainer.fit(run)
        np.testing.assert_allclose(trainer.scores.numpy(), np.tile(1.0 - np.cos(offsets), 2), atol=1e-6)
        assert trainer.kept.tolist() == expected + [i + 10 for i in expected], trainer.kept


class _CountingDataset(torch.utils.data.Dataset):
    """``(x, y)`` pairs that count how often an example is read."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y, self.reads = x, y, 0

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        self.reads += 1
        return self.x[i], self.y[i]


def test_supervised_score_reads_the_split_once_against_each_class_prototype():
    points, offsets = _two_clusters()
    x = torch.tensor(points, dtype=torch.float32)
    y = torch.tensor([0] * 5 + [1] * 5)
    dataset = _CountingDataset(x, y)
    data = DataBundle(dataset, None, "classification", num_classes=2)
    s = SSLPrototypeScore(layer="input", supervised=True, batch_size=3).scores(torch.nn.Linear(2, 2), data)
    assert dataset.reads == 10  # embeddings and labels come from one pass
    np.testing.assert_allclose(s.numpy(), prototype_scores(x, 2, labels=y), rtol=0, atol=0)
    np.testing.assert_allclose(s.numpy(), 1.0 - np.cos(offsets), atol=1e-6)  # float32 inputs


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_init": 0}, "n_init"),
        ({"batch_size": 0}, "batch_size"),
        ({"layer": "hidden"}, "layer"),
        ({"metric": "manhattan"}, "metric"),
        ({"split": "test"}, "split"),
    ],
)
def test_bad_params_name_the_param(params, name):
    with pytest.raises(ParamError) as info:
        SSLPrototypeScore(**params)
    assert info.value.param == name
