"""Parity with the paper's official code (automl/TransformersCanDoBayesianInference, bar_distribution.py):
golden borders, negative log-densities and means recorded from it (see data/*.json for the command)."""

from pathlib import Path

import torch
from paperzoo_synthtasks.bars import BarDistribution, borders_from_samples

GOLDEN = torch.load(Path(__file__).parent / "data" / "bar_distribution_golden.pt", weights_only=True)


def test_borders_from_prior_samples_match_official():
    ours = borders_from_samples(GOLDEN["ys"], 10)
    assert torch.equal(ours, GOLDEN["borders"])  # same order statistics and midpoints: bit for bit


def test_full_support_nll_and_mean_match_official(record_property):
    dist = BarDistribution(GOLDEN["borders"].double(), full_support=True).double()
    nll = dist.nll(GOLDEN["logits"], GOLDEN["y"])
    mean = dist.mean(GOLDEN["logits"])
    bucket = dist.bucket(GOLDEN["y"])
    inner = (bucket > 0) & (bucket < dist.num_bars - 1)
    # the y cover both tails, every bucket and the borders themselves (which bucket a border falls in)
    assert inner.any() and (~inner).any()
    err_inner = (nll - GOLDEN["nll_full"])[inner].abs().max().item()
    err_tail = (nll - GOLDEN["nll_full"])[~inner].abs().max().item()
    err_mean = (mean - GOLDEN["mean_full"]).abs().max().item()
    record_property("max_abs_diff_inner_float64", err_inner)
    record_property("max_abs_diff_tails_and_mean_float64", max(err_tail, err_mean))
    assert err_inner < 1e-12
    # the official code computes the half-normal's median (its tail scale) in float32: a relative error
    # of ~3e-8 on the tail scale, which reaches the tail log-densities and the mean; ours is exact
    assert max(err_tail, err_mean) < 1e-7


def test_bounded_nll_and_mean_match_official(record_property):
    dist = BarDistribution(GOLDEN["borders"].double(), full_support=False).double()
    nll = dist.nll(GOLDEN["logits"], GOLDEN["y_inside"])
    mean = dist.mean(GOLDEN["logits"])
    err = max((nll - GOLDEN["nll_bar"]).abs().max().item(), (mean - GOLDEN["mean_bar"]).abs().max().item())
    record_property("max_abs_diff_bounded_float64", err)
    assert err < 1e-12


def test_full_support_is_exact_with_the_official_float32_tail_scale(monkeypatch):
    import paperzoo_synthtasks.bars as bars

    median32 = torch.distributions.HalfNormal(torch.tensor(1.0)).icdf(torch.tensor(0.5)).item()
    monkeypatch.setattr(bars, "_HALF_NORMAL_MEDIAN", median32)
    dist = BarDistribution(GOLDEN["borders"].double(), full_support=True)
    assert (dist.nll(GOLDEN["logits"], GOLDEN["y"]) - GOLDEN["nll_full"]).abs().max().item() < 1e-12
    assert (dist.mean(GOLDEN["logits"]) - GOLDEN["mean_full"]).abs().max().item() < 1e-12
