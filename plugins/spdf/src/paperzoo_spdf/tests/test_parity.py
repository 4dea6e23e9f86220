"""Parity with torch's own pieces (no package implements SPDF and no official code is public):

- static masked training against ``torch.nn.utils.prune.custom_from_mask`` (its ``weight_orig * mask``
  re-parametrisation): the same masks, initialisation and batches under AdamW with weight decay give
  the same effective weights, in float64;
- the FLOP counter's dense count against ``torch.utils.flop_counter.FlopCounterMode`` on a forward and
  backward pass (torch counts the matmuls it actually runs, dense)."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils.flop_counter import FlopCounterMode

from paperzoo_spdf.flops import count_flops
from paperzoo_spdf.masks import sparsify_random


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(12, 32), nn.GELU(), nn.Linear(32, 24), nn.GELU(), nn.Linear(24, 5)
    ).double()


def test_masked_training_equals_torch_prune(record_property):
    ours = mlp()
    ref = copy.deepcopy(ours)
    masked = sparsify_random(ours, 0.6, seed=1)  # every Linear but the last
    for name, mod in masked.items():
        prune.custom_from_mask(ref.get_submodule(name), "weight", mod.mask.clone())
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-2, weight_decay=0.3)
    opt_ref = torch.optim.AdamW(ref.parameters(), lr=1e-2, weight_decay=0.3)
    g = torch.Generator().manual_seed(0)
    for _ in range(25):
        x = torch.randn(16, 12, generator=g, dtype=torch.float64)
        y = torch.randint(5, (16,), generator=g)
        for model, opt in ((ours, opt_ours), (ref, opt_ref)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    with torch.no_grad():  # prune's ``weight`` is refreshed only by a forward: read its product directly
        err = max(
            float(
                (
                    mod.masked_weight()
                    - ref.get_submodule(name).weight_orig * ref.get_submodule(name).weight_mask
                )
                .abs()
                .max()
            )
            for name, mod in masked.items()
        )
        err = max(err, float((ours[4].weight - ref[4].weight).abs().max()))
    record_property("max_abs_diff_vs_torch_prune_float64", err)
    assert err <= 1e-15  # the same arithmetic on the same effective weights: identical in practice


def test_dense_flop_count_equals_torch_flop_counter(record_property):
    model = mlp().float()
    x = torch.randn(10, 12, requires_grad=True)  # so that the first layer's input gradient is computed
    with FlopCounterMode(display=False) as ref:
        model(x).sum().backward()
    with count_flops(model) as ours:
        model(x).sum().backward()
    record_property("flops_ours_vs_torch", [ours.dense, ref.get_total_flops()])
    assert ours.dense == ref.get_total_flops()
