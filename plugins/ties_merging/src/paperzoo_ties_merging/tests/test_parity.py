"""Parity with PEFT's merge utilities (``peft.utils.merge_utils``, pinned in the ``test`` extra).

PEFT merges one weight tensor at a time, so it matches ``scope="tensor"``; applied to the whole
flattened task vector it matches ``scope="model"``. PEFT scales each task vector by its weight before
the disjoint mean, which equals scaling the mean afterwards.

Where the sign vote of a parameter is exactly zero (entries left, but as much mass, or as many tasks,
on each side), PEFT elects ``+``; we elect the majority of all elected signs, as the official code
does. Votes of ``frequency`` are counts, so such ties are common; ``-ties(-tau)`` is PEFT with ``-``
on ties. So ours equals ``peft.ties(tau)`` when that majority is ``+`` and ``-peft.ties(-tau)`` when
it is ``-``, bit for bit; :func:`peft_oriented` picks the one that applies, from PEFT's own trim.
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


def max_abs_diff(ours: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> float:
    return max(float((ours[n] - ref[n]).abs().max()) for n in ref)


def peft_votes(groups: list[list[torch.Tensor]], density: float, method: str) -> tuple[float, int]:
    """The sum of the signs that PEFT's own trim and vote elect over all groups of task tensors, and
    the number of entries whose vote is 0 with entries left (where the orientation matters)."""
    votes, tied = 0.0, 0
    for group in groups:
        pruned = torch.stack([peft.prune(t, density, method="magnitude") for t in group])
        vote = pruned.sum(0) if method == "total" else pruned.sign().sum(0)
        votes += float(vote.sign().sum())
        tied += int(((vote == 0) & (pruned != 0).any(0)).sum())
    return votes, tied


def peft_oriented(
    groups: list[list[torch.Tensor]], weights: torch.Tensor, density: float, method: str
) -> tuple[list[torch.Tensor], int]:
    """PEFT's ``ties`` on each group of task tensors, oriented by the majority of the elected signs
    (``-ties(-tau)`` when it is negative), and the number of tied votes."""
    votes, tied = peft_votes(groups, density, method)
    if votes >= 0:
        return [peft.ties(g, weights, density, majority_sign_method=method) for g in groups], tied
    return [-peft.ties([-t for t in g], weights, density, majority_sign_method=method) for g in groups], tied


@pytest.mark.parametrize("density", [0.1, 0.2, 0.5, 0.9])
def test_ties_per_tensor_equals_peft(density, record_property):
    tvs = task_vectors(0)
    ours = ties_merge(tvs, k=density, lam=1.0, scope="tensor")
    ref = {}
    for name in tvs[0]:
        ref[name] = peft.ties(
            [tv[name] for tv in tvs], torch.ones(len(tvs)), density, majority_sign_method="total"
        )
    record_property("max_abs_diff", max_abs_diff(ours, ref))
    for name in tvs[0]:
        assert torch.equal(ours[name], ref[name]), name


def test_ties_whole_model_equals_peft_on_the_flattened_vector(record_property):
    tvs = task_vectors(1, n_tasks=4)
    names = list(tvs[0])
    flat = [torch.cat([tv[n].flatten() for n in names]) for tv in tvs]
    ref = peft.ties(flat, torch.ones(len(flat)), 0.2)
    ours = ties_merge(flat, k=0.2, lam=1.0)
    record_property("max_abs_diff", float((ours - ref).abs().max()))
    assert torch.equal(ours, ref)
    by_name = ties_merge(tvs, k=0.2, lam=1.0, scope="model")
    assert torch.equal(torch.cat([by_name[n].flatten() for n in names]), ref)


def test_lambda_matches_peft_weights(record_property):
    tvs = task_vectors(2)
    lam = 0.7
    ours = ties_merge(tvs, k=0.2, lam=lam, scope="tensor")
    ref = {name: peft.ties([tv[name] for tv in tvs], torch.full((3,), lam), 0.2) for name in tvs[0]}
    record_property("max_abs_diff_lambda_0.7", max_abs_diff(ours, ref))
    for name in tvs[0]:
        # PEFT averages lam * tau, we scale the average by lam: equal up to float32 rounding
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-6, atol=1e-6)


# Per-task weights of PEFT's ``ties``: positive, negative and below one, not powers of two, so that
# every product rounds; a weight of -0.9 flips its task's contribution after the sign election.
WEIGHTS = [0.3, 1.7, -0.9]


@pytest.mark.filterwarnings("ignore:The density 1.0 is greater than or equal to 1")  # PEFT at k = 1
@pytest.mark.parametrize("method", ["total", "frequency"])
@pytest.mark.parametrize("density", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("flip", [1.0, -1.0], ids=["tau", "minus_tau"])
def test_weighted_ties_per_tensor_equals_peft(method, density, flip, record_property):
    """Both sign methods with per-task weights, on data whose majority sign is + and on its negation
    (majority -): bit for bit, PEFT taken in the orientation of the majority."""
    tvs = [{n: flip * t for n, t in tv.items()} for tv in task_vectors(5)]
    names = list(tvs[0])
    ours = ties_merge(tvs, k=density, scope="tensor", weights=WEIGHTS, majority_sign_method=method)
    refs, tied = peft_oriented([[tv[n] for tv in tvs] for n in names], torch.tensor(WEIGHTS), density, method)
    ref = dict(zip(names, refs))
    record_property("max_abs_diff", max_abs_diff(ours, ref))
    record_property("tied_votes", tied)
    for name in names:
        assert torch.equal(ours[name], ref[name]), name
    if method == "frequency" and density < 1.0:
        assert tied > 0, "the data must exercise the tie rule"


@pytest.mark.parametrize("method", ["total", "frequency"])
def test_weighted_ties_whole_model_equals_peft_on_the_flattened_vector(method, record_property):
    tvs = task_vectors(6, n_tasks=4)
    names = list(tvs[0])
    weights = [1.3, 0.45, -0.2, 0.8]
    flat = [torch.cat([tv[n].flatten() for n in names]) for tv in tvs]
    (ref,), _ = peft_oriented([flat], torch.tensor(weights), 0.2, method)
    ours = ties_merge(flat, k=0.2, weights=weights, majority_sign_method=method)
    by_name = ties_merge(tvs, k=0.2, scope="model", weights=weights, majority_sign_method=method)
    record_property("max_abs_diff", float((ours - ref).abs().max()))
    assert torch.equal(ours, ref)
    assert torch.equal(torch.cat([by_name[n].flatten() for n in names]), ref)


def test_frequency_ties_differ_from_peft_only_in_orientation():
    """The one deviation, shown: with a majority of - elected signs, PEFT's frequency merge differs
    from ours exactly on the tied votes (PEFT takes +), and nowhere else."""
    tvs = task_vectors(5)
    names = list(tvs[0])
    votes, tied = peft_votes([[tv[n] for tv in tvs] for n in names], 0.2, "frequency")
    if votes > 0:  # negating every task vector negates every vote
        tvs = [{n: -t for n, t in tv.items()} for tv in tvs]
    assert votes != 0 and tied > 0
    ours = ties_merge(tvs, k=0.2, scope="tensor", weights=WEIGHTS, majority_sign_method="frequency")
    differing = 0
    for name in names:
        group = [tv[name] for tv in tvs]
        plain = peft.ties(group, torch.tensor(WEIGHTS), 0.2, majority_sign_method="frequency")
        pruned = torch.stack([peft.prune(t, 0.2, method="magnitude") for t in group])
        undecided = (pruned.sign().sum(0) == 0) & (pruned != 0).any(0)
        assert torch.equal(ours[name][~undecided], plain[~undecided]), name
        differing += int((ours[name] != plain).sum())
    assert differing > 0


def test_trim_equals_peft_magnitude_pruning():
    tvs = task_vectors(3)
    for name in tvs[0]:
        for density in (0.1, 0.2, 0.5):
            ref = peft.magnitude_based_pruning(tvs[0][name], density)
            ours = trim_(tvs[0][name].reshape(1, -1).clone(), density).view_as(ref)
            assert torch.equal(ours, ref), (name, density)


def test_task_arithmetic_equals_peft(record_property):
    tvs = task_vectors(4)
    ours = task_arithmetic(tvs, lam=1.0)
    scaled = task_arithmetic(tvs, lam=0.3)
    weighted = task_arithmetic(tvs, weights=WEIGHTS)
    stacked = task_arithmetic(torch.stack([tv["attn.q"] for tv in tvs]), weights=WEIGHTS)
    refs = {}
    for name in tvs[0]:
        stack = [tv[name] for tv in tvs]
        assert torch.equal(ours[name], peft.task_arithmetic(stack, torch.ones(3)))
        # lam * (a + b + c) against lam*a + lam*b + lam*c: equal up to float32 rounding
        ref = peft.task_arithmetic(stack, torch.full((3,), 0.3))
        torch.testing.assert_close(scaled[name], ref, rtol=1e-6, atol=1e-6)
        refs[name] = peft.task_arithmetic(stack, torch.tensor(WEIGHTS))
    record_property("max_abs_diff_weighted", max_abs_diff(weighted, refs))
    for name in tvs[0]:  # the same products summed in the same order: bit for bit
        assert torch.equal(weighted[name], refs[name]), name
    assert torch.equal(stacked, refs["attn.q"])
