"""Parity with PEFT's merge utilities (``peft.utils.merge_utils``, pinned in the ``test`` extra).

PEFT merges one weight tensor at a time, so it matches ``scope="tensor"``; applied to the whole
flattened task vector it matches ``scope="model"``. PEFT scales each task vector by its weight before
the disjoint mean, which equals scaling the mean afterwards.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
from paperzoo_ties_merging.merge import task_arithmetic, ties_merge, trim_


def _peft_merge_utils():
    """``peft/utils/merge_utils.py`` loaded on its own: it needs only torch, while importing the
    ``peft`` package also imports transformers and whatever optional vision stack is installed."""
    spec = importlib.util.find_spec("peft")
    if spec is None:
        pytest.fail("peft is not installed: install the plugin's `test` extra")
    path = Path(spec.submodule_search_locations[0]) / "utils" / "merge_utils.py"
    module_spec = importlib.util.spec_from_file_location("peft_merge_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


peft = _peft_merge_utils()


def task_vectors(seed: int, n_tasks: int = 3) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = {
        "embed": (50, 16),
        "attn.q": (16, 16),
        "attn.k": (16, 16),
        "mlp.up": (64, 16),
        "mlp.bias": (64,),
    }
    return [{n: torch.randn(s, generator=g) * (1 + i) for n, s in shapes.items()} for i in range(n_tasks)]


@pytest.mark.parametrize("density", [0.1, 0.2, 0.5, 0.9])
def test_ties_per_tensor_equals_peft(density):
    tvs = task_vectors(0)
    ours = ties_merge(tvs, k=density, lam=1.0, scope="tensor")
    for name in tvs[0]:
        ref = peft.ties([tv[name] for tv in tvs], torch.ones(len(tvs)), density, majority_sign_method="total")
        assert torch.equal(ours[name], ref), name


def test_ties_whole_model_equals_peft_on_the_flattened_vector():
    tvs = task_vectors(1, n_tasks=4)
    names = list(tvs[0])
    flat = [torch.cat([tv[n].flatten() for n in names]) for tv in tvs]
    ref = peft.ties(flat, torch.ones(len(flat)), 0.2)
    ours = ties_merge(flat, k=0.2, lam=1.0)
    assert torch.equal(ours, ref)
    by_name = ties_merge(tvs, k=0.2, lam=1.0, scope="model")
    assert torch.equal(torch.cat([by_name[n].flatten() for n in names]), ref)


def test_lambda_matches_peft_weights():
    tvs = task_vectors(2)
    lam = 0.7
    ours = ties_merge(tvs, k=0.2, lam=lam, scope="tensor")
    for name in tvs[0]:
        ref = peft.ties([tv[name] for tv in tvs], torch.full((3,), lam), 0.2)
        # PEFT averages lam * tau, we scale the average by lam: equal up to float32 rounding
        torch.testing.assert_close(ours[name], ref, rtol=1e-6, atol=1e-6)


def test_trim_equals_peft_magnitude_pruning():
    tvs = task_vectors(3)
    for name in tvs[0]:
        for density in (0.1, 0.2, 0.5):
            ref = peft.magnitude_based_pruning(tvs[0][name], density)
            ours = trim_(tvs[0][name].reshape(1, -1).clone(), density).view_as(ref)
            assert torch.equal(ours, ref), (name, density)


def test_task_arithmetic_equals_peft():
    tvs = task_vectors(4)
    ours = task_arithmetic(tvs, lam=1.0)
    scaled = task_arithmetic(tvs, lam=0.3)
    for name in tvs[0]:
        stack = [tv[name] for tv in tvs]
        assert torch.equal(ours[name], peft.task_arithmetic(stack, torch.ones(3)))
        # lam * (a + b + c) against lam*a + lam*b + lam*c: equal up to float32 rounding
        ref = peft.task_arithmetic(stack, torch.full((3,), 0.3))
        torch.testing.assert_close(scaled[name], ref, rtol=1e-6, atol=1e-6)
