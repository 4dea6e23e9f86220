"""Parity with an independent implementation of iterative magnitude pruning: PyTorch's own
``torch.nn.utils.prune`` (``l1_unstructured`` per layer, ``global_unstructured`` over a pool), applied
round after round to weights that change between rounds as training would change them.

There is no PyPI release of the paper's code. Both reference codes remove one weight more than
``p n`` per round: the authors' original code prunes ``|w| <= sorted|w|[round(p n)]``, and open_lth's
``sparse_global`` keeps ``|w| > sorted|w|[ceil(p n)]``. ``torch.nn.utils.prune`` removes exactly
``round(p n)``, as the paper states. Masks are boolean: the comparison is exact (tolerance 0), and
each test reports the number of mask entries that differ from torch's.

Magnitudes are ranked in the weights' own dtype, as torch ranks them: float64 weights whose magnitudes
differ by less than float32 resolves are pruned as torch prunes them, and in float32, float16 and
bfloat16 the same weights are all equal, so those cases check that ties are resolved as torch
resolves them.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from paperzoo_lottery_ticket.masks import magnitude_prune, pools, prunable_weights

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def lenet(seed: int, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 10))
    return layers.to(dtype)


def perturb(reference: nn.Module, ours: nn.Module, g: torch.Generator, scale: float = 0.5) -> None:
    """The same 'training' update for both copies. A pruned torch module keeps its weights in
    ``weight_orig`` and recomputes ``weight = weight_orig * weight_mask`` (what it prunes next) in a
    forward pre-hook. Ours are left unmasked: pruned entries must be ignored whatever their value."""
    linear = [m for m in reference if isinstance(m, nn.Linear)], [m for m in ours if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for a, b in zip(*linear):
            precision = torch.float64 if a.weight.dtype == torch.float64 else torch.float32
            delta = scale * torch.randn(a.weight.shape, generator=g, dtype=precision)
            (a.weight_orig if hasattr(a, "weight_orig") else a.weight).add_(delta.to(a.weight.dtype))
            b.weight.add_(delta.to(b.weight.dtype))
        reference(torch.zeros(1, 64, dtype=a.weight.dtype))


def prune_reference(layers: list[nn.Linear], strategy: str, rate: float, output_rate: float) -> None:
    """One round of ``torch.nn.utils.prune`` on a LeNet's three Linear layers, as ``pools`` arranges
    them: each layer alone (``layerwise``) or the hidden layers in one pool (``global``)."""
    if strategy == "layerwise":
        for layer, amount in zip(layers, [rate, rate, output_rate]):
            prune.l1_unstructured(layer, "weight", amount=amount)
    else:
        prune.global_unstructured(
            [(layer, "weight") for layer in layers[:2]], pruning_method=prune.L1Unstructured, amount=rate
        )
        prune.l1_unstructured(layers[2], "weight", amount=output_rate)


def differing(layers: list[nn.Linear], masks: list[torch.Tensor]) -> int:
    """Entries where our masks and torch's ``weight_mask`` differ."""
    return sum(int((layer.weight_mask.bool() != mask).sum()) for layer, mask in zip(layers, masks))


@pytest.mark.parametrize("strategy", ["layerwise", "global"])
@pytest.mark.parametrize("rate,output_rate", [(0.2, 0.1), (0.45, 0.3)])
def test_masks_match_torch_nn_utils_prune(strategy, rate, output_rate, record_property):
    reference, ours = lenet(0), lenet(0)
    found = prunable_weights(ours)
    groups, rates = pools([p.kind for p in found], strategy, rate, output_rate, None)
    masks = [torch.ones_like(p.param, dtype=torch.bool) for p in found]
    ref_layers = [m for m in reference if isinstance(m, nn.Linear)]
    g = torch.Generator().manual_seed(1)
    worst = 0
    for _ in range(6):
        perturb(reference, ours, g)
        prune_reference(ref_layers, strategy, rate, output_rate)
        masks = magnitude_prune([p.param for p in found], masks, groups, rates)
        for layer, mask in zip(ref_layers, masks):
            assert torch.equal(layer.weight_mask.bool(), mask)
        worst = max(worst, differing(ref_layers, masks))
    record_property("mask_entries_differing", worst)


def single_rows(rows: list[list[float]], dtype: torch.dtype) -> list[nn.Linear]:
    """One ``Linear(len(row), 1)`` per row, its weight the row (given in float64, then cast)."""
    layers = []
    for row in rows:
        layer = nn.Linear(len(row), 1, bias=False).to(dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([row], dtype=torch.float64))
        layers.append(layer)
    return layers


# |w| apart by 1e-10, far below float32's resolution near 0.5 (6e-8): in float64 the smallest is unique
ROW = [0.5 + 2e-10, 0.5 + 1e-10, 0.5]
ROW_2 = [0.5 + 3e-10, 0.5 + 0.5e-10, 0.5 + 4e-10]


def test_float64_magnitudes_closer_than_float32_resolves_layerwise(record_property):
    """``l1_unstructured`` at rate 1/3 removes the smallest of ``ROW``, the last entry, in float64.
    In the other dtypes the three magnitudes are equal and torch's tie-break decides."""
    worst = 0
    for dtype in DTYPES:
        (reference,) = single_rows([ROW], dtype)
        weight = reference.weight.detach().clone()
        prune.l1_unstructured(reference, "weight", amount=1 / 3)
        if dtype == torch.float64:
            assert reference.weight_mask.tolist() == [[1.0, 1.0, 0.0]]
        (ours,) = magnitude_prune([weight], [torch.ones_like(weight, dtype=torch.bool)], [0], [1 / 3])
        assert torch.equal(reference.weight_mask.bool(), ours), f"{dtype}: {ours.tolist()}"
        worst = max(worst, differing([reference], [ours]))
    record_property("mask_entries_differing", worst)


def test_float64_magnitudes_closer_than_float32_resolves_global(record_property):
    """``global_unstructured`` at rate 1/3 over ``ROW`` and ``ROW_2`` removes the two smallest of the six
    magnitudes, one in each tensor (``0.5`` and ``0.5 + 0.5e-10``), in float64."""
    worst = 0
    for dtype in DTYPES:
        reference = single_rows([ROW, ROW_2], dtype)
        weights = [layer.weight.detach().clone() for layer in reference]
        prune.global_unstructured(
            [(layer, "weight") for layer in reference], pruning_method=prune.L1Unstructured, amount=1 / 3
        )
        if dtype == torch.float64:
            assert [layer.weight_mask.tolist() for layer in reference] == [
                [[1.0, 1.0, 0.0]],
                [[1.0, 0.0, 1.0]],
            ]
        masks = [torch.ones_like(w, dtype=torch.bool) for w in weights]
        groups, rates = pools(["linear", "linear"], "global", 1 / 3, 0.0, None)
        ours = magnitude_prune(weights, masks, groups, rates)
        for layer, mask in zip(reference, ours):
            assert torch.equal(layer.weight_mask.bool(), mask), f"{dtype}: {[m.tolist() for m in ours]}"
        worst = max(worst, differing(reference, ours))
    record_property("mask_entries_differing", worst)


@pytest.mark.parametrize("strategy", ["layerwise", "global"])
def test_iterated_rounds_on_magnitudes_closer_than_float32_resolves(strategy, record_property):
    """Four rounds on a LeNet whose magnitudes all lie within 1e-8 of 0.5: distinct in float64, all
    equal (ties) once cast to float32, float16 or bfloat16. Every dtype must give torch's masks."""
    worst = 0
    for dtype in DTYPES:
        reference, ours = lenet(0, dtype), lenet(0, dtype)
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for a, b in zip(reference, ours):
                if isinstance(a, nn.Linear):
                    near = 0.5 + 1e-9 * torch.randn(a.weight.shape, generator=g, dtype=torch.float64)
                    sign = torch.where(torch.rand(a.weight.shape, generator=g) < 0.5, -1.0, 1.0)
                    a.weight.copy_(sign * near)
                    b.weight.copy_(sign * near)
        found = prunable_weights(ours)
        groups, rates = pools([p.kind for p in found], strategy, 0.3, 0.2, None)
        masks = [torch.ones_like(p.param, dtype=torch.bool) for p in found]
        ref_layers = [m for m in reference if isinstance(m, nn.Linear)]
        for rnd in range(4):
            if rnd:
                perturb(reference, ours, g, scale=1e-10)
            prune_reference(ref_layers, strategy, 0.3, 0.2)
            masks = magnitude_prune([p.param for p in found], masks, groups, rates)
            n = differing(ref_layers, masks)
            assert n == 0, f"{dtype}, round {rnd + 1}: {n} mask entries differ from torch's"
            worst = max(worst, n)
    record_property("mask_entries_differing", worst)
