"""Parity with an independent implementation of iterative magnitude pruning: PyTorch's own
``torch.nn.utils.prune`` (``l1_unstructured`` per layer, ``global_unstructured`` over a pool), applied
round after round to weights that change between rounds as training would change them.

There is no PyPI release of the paper's code. Both reference codes remove one weight more than
``p n`` per round: the authors' original code prunes ``|w| <= sorted|w|[round(p n)]``, and open_lth's
``sparse_global`` keeps ``|w| > sorted|w|[ceil(p n)]``. ``torch.nn.utils.prune`` removes exactly
``round(p n)``, as the paper states. Masks are boolean: the comparison is exact (tolerance 0).
"""

from __future__ import annotations

import pytest
import torch
from paperzoo_lottery_ticket.masks import magnitude_prune, pools, prunable_weights
from torch import nn
from torch.nn.utils import prune


def lenet(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 10))


def perturb(reference: nn.Module, ours: nn.Module, g: torch.Generator) -> None:
    """The same 'training' update for both copies. A pruned torch module keeps its weights in
    ``weight_orig`` and recomputes ``weight = weight_orig * weight_mask`` (what it prunes next) in a
    forward pre-hook. Ours are left unmasked: pruned entries must be ignored whatever their value."""
    linear = [m for m in reference if isinstance(m, nn.Linear)], [m for m in ours if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for a, b in zip(*linear):
            delta = 0.5 * torch.randn(a.weight.shape, generator=g)
            (a.weight_orig if hasattr(a, "weight_orig") else a.weight).add_(delta)
            b.weight.add_(delta)
        reference(torch.zeros(1, 64))


@pytest.mark.parametrize("strategy", ["layerwise", "global"])
@pytest.mark.parametrize("rate,output_rate", [(0.2, 0.1), (0.45, 0.3)])
def test_masks_match_torch_nn_utils_prune(strategy, rate, output_rate):
    reference, ours = lenet(0), lenet(0)
    found = prunable_weights(ours)
    groups, rates = pools([p.kind for p in found], strategy, rate, output_rate, None)
    masks = [torch.ones_like(p.param, dtype=torch.bool) for p in found]
    ref_layers = [m for m in reference if isinstance(m, nn.Linear)]
    g = torch.Generator().manual_seed(1)
    for _ in range(6):
        perturb(reference, ours, g)
        if strategy == "layerwise":
            for layer, amount in zip(ref_layers, [rate, rate, output_rate]):
                prune.l1_unstructured(layer, "weight", amount=amount)
        else:
            prune.global_unstructured(
                [(layer, "weight") for layer in ref_layers[:2]],
                pruning_method=prune.L1Unstructured,
                amount=rate,
            )
            prune.l1_unstructured(ref_layers[2], "weight", amount=output_rate)
        masks = magnitude_prune([p.param for p in found], masks, groups, rates)
        for layer, mask in zip(ref_layers, masks):
            assert torch.equal(layer.weight_mask.bool(), mask)
