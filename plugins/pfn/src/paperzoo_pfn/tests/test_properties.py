"""Exact properties of the PFN: the mask's invariances at model level, a normalised predictive, borders
at prior quantiles, and the loss the trainer and evaluator compute."""

import pytest
import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_synthtasks.priors import pack, sample_gp1d, synthtasks_gp1d
from paperzoo_synthtasks.reference import gaussian_nll, gp_posterior

from paperzoo_pfn.evaluate import PosteriorPredictive
from paperzoo_pfn.model import PFNTransformer, prior_borders
from paperzoo_pfn.trainer import PriorFitting, fit_prior


def _pfn(seed: int = 0, **kw) -> PFNTransformer:
    torch.manual_seed(seed)
    params = dict(n_train=6, d_model=16, n_layers=2, n_heads=2, num_bars=20, border_samples=4000)
    return PFNTransformer(**{**params, **kw}).double().eval()


def _tasks(n: int = 3, seq_len: int = 10, seed: int = 0):
    x, y = sample_gp1d(n, seq_len, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x, y, torch.cat([x, y.unsqueeze(-1)], -1)


def test_predictions_invariant_to_train_permutation():
    model = _pfn()
    _, _, inputs = _tasks()
    out = model(inputs)
    permuted = inputs[:, torch.cat([torch.randperm(6), torch.arange(6, 10)])]
    assert torch.allclose(model(permuted), out, atol=1e-12, rtol=0)


def test_query_independent_of_other_queries():
    model = _pfn(1)
    _, _, inputs = _tasks(seed=1)
    out = model(inputs)
    for q in range(4):  # each query alone after the training set gives the same logits
        alone = torch.cat([inputs[:, :6], inputs[:, 6 + q : 7 + q]], 1)
        assert torch.allclose(model(alone)[:, 0], out[:, q], atol=1e-12, rtol=0)


def test_training_set_does_matter():
    model = _pfn(2)
    _, _, inputs = _tasks(seed=2)
    changed = inputs.clone()
    changed[:, 0, 1] += 1.0
    assert (model(changed) - model(inputs)).abs().max() > 1e-6


def test_predictive_density_integrates_to_one():
    model = _pfn(3)
    _, _, inputs = _tasks(n=1, seed=3)
    logits = model(inputs)[0, 0]
    b = model.dist.borders
    edges = torch.cat([b.new_tensor([-60.0]), b[1:-1], b.new_tensor([60.0])])
    t = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000
    grid = (edges[:-1, None] + (edges[1:] - edges[:-1])[:, None] * t).flatten()
    step = ((edges[1:] - edges[:-1])[:, None] / 4000).expand(-1, 4000).flatten()
    mass = (model.dist.log_density(logits.expand(len(grid), -1), grid).exp() * step).sum()
    assert abs(mass.item() - 1.0) < 1e-6


def test_borders_are_prior_quantiles():
    borders = prior_borders("gp1d", 20, 4000, 0, {})
    _, y = sample_gp1d(80, 50, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(
        torch.searchsorted(borders, y.flatten(), right=False).clamp(1, 20) - 1, minlength=20
    )
    assert counts.tolist() == [200] * 20  # the same draws, split into equal-count buckets


def test_trainer_loss_is_query_nll_and_ignores_query_targets_in_input():
    model = _pfn(4)
    x, y, _ = _tasks(n=4, seed=4)
    inputs = pack(x, y, 6)
    trainer = PriorFitting(max_steps=1, progress=False)
    loss = trainer.compute_loss(model, (inputs, y), "regression")
    assert torch.allclose(loss, model.nll(inputs, y).mean(), atol=1e-14, rtol=0)
    torch.manual_seed(0)
    varying = PriorFitting(n_train_range=[3, 3], max_steps=1, progress=False)
    leaked = torch.cat([x, y.unsqueeze(-1)], -1)  # query targets visible in the input
    assert torch.allclose(
        varying.compute_loss(model, (leaked, y), "regression"), model.nll(pack(x, y, 3), y, 3).mean()
    )


def test_trainer_rejects_a_range_that_leaves_no_query_point():
    model = _pfn(4)
    x, y, _ = _tasks(n=2, seq_len=10, seed=4)
    trainer = PriorFitting(n_train_range=[10, 12], max_steps=1, progress=False)  # 10 points: low <= 9
    with pytest.raises(ParamError, match=r"n_train_range: got \[10, 12\] for tasks of 10 points"):
        trainer.compute_loss(model, (pack(x, y, 6), y), "regression")


def test_evaluator_reference_is_the_exact_gp():
    data = synthtasks_gp1d(num_tasks=2, val_tasks=5, seq_len=10, n_train=6)
    model = _pfn(5).float()
    out = PosteriorPredictive(reference="gp1d", prior_params={"lengthscale": 0.2})(model, data)
    inputs, y = data.val.tensors
    ref = torch.cat(
        [
            gaussian_nll(*gp_posterior(a[:6, :1], b[:6], a[6:, :1], lengthscale=0.2), b[6:].double())
            for a, b in zip(inputs, y)
        ]
    )
    assert abs(out["ref_nll"] - ref.mean().item()) < 1e-12
    assert abs(out["nll_gap"] - (out["pfn_nll"] - out["ref_nll"])) < 1e-12
    bare = PosteriorPredictive()(model, DataBundle(data.train, data.val, "regression"))
    assert set(bare) == {"pfn_nll", "pfn_mse"} and bare["pfn_nll"] == out["pfn_nll"]


def test_fit_prior_lowers_the_prior_nll():
    model = _pfn(6).float().train()
    sampler = lambda b, g: sample_gp1d(b, 12, generator=g)  # noqa: E731
    losses = fit_prior(
        model, sampler, steps=60, batch_size=16, seq_len=12, n_train_range=(2, 8), lr=3e-3, seed=0
    )
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.15
