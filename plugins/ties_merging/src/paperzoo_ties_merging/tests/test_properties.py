"""Exact properties of TIES-Merging and task arithmetic, with expected values worked out by hand."""

import pytest
import torch

from paperzoo_ties_merging.merge import (
    elect_sign,
    merge_state_dicts,
    mergeable_keys,
    merged_task_vector,
    task_arithmetic,
    ties_merge,
    trim_,
)

# Dyadic values, so every sum and mean below is exact in floating point.
TAUS = torch.tensor(
    [
        [1.0, -0.25, 0.5, -3.0, 0.125],
        [-2.0, 0.375, -0.125, 1.0, 0.25],
        [0.75, 0.25, -0.1875, -0.5, 1.5],
    ]
)


def test_toy_vectors_by_hand():
    # k = 0.6 keeps floor(0.6 * 5) = 3 entries per task vector:
    #   tau_1 -> [1, 0, 0.5, -3, 0], tau_2 -> [-2, 0.375, 0, 1, 0], tau_3 -> [0.75, 0, 0, -0.5, 1.5]
    # elected signs (sign of the trimmed sums -0.25, 0.375, 0.5, -2.5, 1.5): [-, +, +, -, +]
    # disjoint means: [-2, 0.375, 0.5, (-3 - 0.5) / 2, 1.5]; times lambda = 0.5:
    expected = torch.tensor([-1.0, 0.1875, 0.25, -0.875, 0.75])
    assert torch.equal(ties_merge(TAUS, k=0.6, lam=0.5), expected)


def test_weights_by_hand_enter_after_the_election():
    # trimmed as above; elected signs from the unweighted sums: [-, +, +, -, +]. With weights
    # (0.5, 2, -1) the agreeing entries are scaled, then averaged over their (unweighted) count:
    #   [2 * -2, 2 * 0.375, 0.5 * 0.5, (0.5 * -3 + -1 * -0.5) / 2, -1 * 1.5]
    # (weighting before the election would elect - from -0.5 - 4 - 0.75 at the first entry and give
    # (-4 - 0.75) / 2 there instead).
    expected = torch.tensor([-4.0, 0.75, 0.25, -0.5, -1.5])
    assert torch.equal(ties_merge(TAUS, k=0.6, weights=[0.5, 2.0, -1.0]), expected)


def test_frequency_by_hand():
    # trimmed as above; signs per entry (+-+, 0+0, +00, -+-, 00+): frequency elects [+, +, +, -, +],
    # where the total mass elected - for the first entry (sum -0.25). Disjoint means:
    # [(1 + 0.75) / 2, 0.375, 0.5, (-3 - 0.5) / 2, 1.5]; times lambda = 0.5:
    expected = torch.tensor([0.4375, 0.1875, 0.25, -0.875, 0.75])
    assert torch.equal(ties_merge(TAUS, k=0.6, lam=0.5, majority_sign_method="frequency"), expected)
    assert torch.equal(elect_sign(trim_(TAUS.clone(), 0.6), "frequency"), torch.tensor([1.0, 1, 1, -1, 1]))


def test_frequency_tie_takes_the_majority_of_elected_signs():
    # one task for +, one for -: a tied count, decided by the majority of the other elected signs
    plus = torch.tensor([[1.0, 2.0, 1.0], [-3.0, 2.0, 1.0]])
    assert torch.equal(
        ties_merge(plus, k=1.0, majority_sign_method="frequency"), torch.tensor([1.0, 2.0, 1.0])
    )
    assert torch.equal(ties_merge(plus, k=1.0), torch.tensor([-3.0, 2.0, 1.0]))  # total: the larger mass
    minus = torch.tensor([[1.0, -2.0, -1.0], [-3.0, -2.0, -1.0]])
    assert torch.equal(
        ties_merge(minus, k=1.0, majority_sign_method="frequency"), torch.tensor([-3.0, -2.0, -1.0])
    )


def random_task_vectors(seed: int, n_tasks: int = 4) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"w": (12, 10), "b": (12,), "v": (30,)}
    return [{n: torch.randn(s, generator=g) for n, s in shapes.items()} for _ in range(n_tasks)]


@pytest.mark.parametrize("method", ["total", "frequency"])
@pytest.mark.parametrize("scope", ["model", "tensor"])
def test_unit_weights_are_the_unweighted_merge(method, scope):
    tvs = random_task_vectors(5)
    plain = ties_merge(tvs, k=0.3, lam=0.7, scope=scope, majority_sign_method=method)
    ones = ties_merge(tvs, k=0.3, lam=0.7, scope=scope, weights=[1.0] * 4, majority_sign_method=method)
    assert all(torch.equal(ones[n], plain[n]) for n in plain)
    stacked = torch.stack([tv["w"] for tv in tvs])
    assert torch.equal(
        ties_merge(stacked, k=0.3, weights=torch.ones(4), majority_sign_method=method),
        ties_merge(stacked, k=0.3, majority_sign_method=method),
    )
    ta, ta_ones = task_arithmetic(tvs, lam=0.7), task_arithmetic(tvs, lam=0.7, weights=[1, 1, 1, 1])
    assert all(torch.equal(ta_ones[n], ta[n]) for n in ta)
    assert torch.equal(task_arithmetic(stacked, weights=[1, 1, 1, 1]), task_arithmetic(stacked))


def test_weights_scale_linearly_and_a_common_weight_is_lambda():
    tvs = random_task_vectors(6)
    w = [0.75, -1.5, 0.25, 3.0]
    one = ties_merge(tvs, k=0.3, weights=w)
    four = ties_merge(tvs, k=0.3, weights=[4.0 * v for v in w])  # powers of two scale exactly
    assert all(torch.equal(four[n], 4.0 * one[n]) for n in one)
    common = ties_merge(tvs, k=0.3, weights=[0.5] * 4, majority_sign_method="frequency")
    scaled = ties_merge(tvs, k=0.3, lam=0.5, majority_sign_method="frequency")
    assert all(torch.equal(common[n], scaled[n]) for n in common)


@pytest.mark.parametrize("weights", [None, [0.3, 1.7, -0.9, 1.1]])
def test_frequency_equals_total_when_kept_entries_share_their_magnitude(weights):
    """Where every task's entry of a parameter has the same magnitude m (signs free), the trim keeps
    the same entries of every task, and sum_t tau_hat_t = m * sum_t sgn(tau_hat_t) exactly (m a power
    of two, counts small): both votes have the same sign everywhere, zeros included, so both methods
    merge identically. With magnitudes drawn per task, they differ."""
    g = torch.Generator().manual_seed(7)
    magnitude = 2.0 ** torch.randint(-4, 5, (200,), generator=g)
    signs = torch.randint(0, 2, (4, 200), generator=g) * 2.0 - 1.0
    taus = signs * magnitude
    maps = [{"a": t[:120].view(12, 10), "b": t[120:]} for t in taus]
    assert torch.equal(
        ties_merge(taus, k=0.4, weights=weights),
        ties_merge(taus, k=0.4, weights=weights, majority_sign_method="frequency"),
    )
    for scope in ("model", "tensor"):
        total = ties_merge(maps, k=0.4, scope=scope, weights=weights)
        frequency = ties_merge(maps, k=0.4, scope=scope, weights=weights, majority_sign_method="frequency")
        assert all(torch.equal(total[n], frequency[n]) for n in total), scope
    tied = (trim_(taus.clone(), 0.4).sign().sum(0) == 0) & (trim_(taus.clone(), 0.4) != 0).any(0)
    assert tied.any(), "the data must contain tied votes (two tasks each way)"
    free = signs * torch.rand(4, 200, generator=g).add(0.1)
    assert not torch.equal(ties_merge(free, k=0.4), ties_merge(free, k=0.4, majority_sign_method="frequency"))


def test_task_arithmetic_by_hand():
    # sums [-0.25, 0.375, 0.1875, -2.5, 1.875], times lambda = 0.5
    expected = torch.tensor([-0.125, 0.1875, 0.09375, -1.25, 0.9375])
    assert torch.equal(task_arithmetic(TAUS, lam=0.5), expected)
    assert torch.equal(task_arithmetic(list(TAUS), lam=0.5), expected)


def test_no_trim_and_agreeing_signs_is_the_mean():
    g = torch.Generator().manual_seed(0)
    signs = torch.randn(50, generator=g).sign()
    taus = torch.rand(4, 50, generator=g).add(0.1) * signs
    torch.testing.assert_close(ties_merge(taus, k=1.0, lam=1.0), taus.mean(0), rtol=0, atol=1e-7)


def test_single_task_returns_its_trimmed_vector():
    tau = torch.tensor([[0.5, -4.0, 1.0, -0.25, 2.0, 3.0, -0.125, 0.0]])
    # k = 0.5 keeps floor(4) entries: -4, 3, 2, 1
    assert torch.equal(ties_merge(tau, k=0.5), torch.tensor([0.0, -4.0, 1.0, 0.0, 2.0, 3.0, 0.0, 0.0]))
    assert torch.equal(ties_merge(tau, k=1.0), tau[0])


def test_trim_keeps_floor_k_n_and_ties_at_the_threshold():
    m = torch.tensor([[3.0, -3.0, 1.0, 2.0], [4.0, 1.0, -2.0, 0.5]])
    out = trim_(m.clone(), 0.25)  # keep floor(1) per row; row 0 has +3 and -3 tied at the threshold
    assert torch.equal(out, torch.tensor([[3.0, -3.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]]))
    assert torch.equal(trim_(m.clone(), 0.2), torch.zeros_like(m))  # floor(0.8) = 0 entries kept


def test_zero_sum_sign_takes_the_majority_of_elected_signs():
    taus = torch.tensor([[1.0, 1.0, 1.0, 2.0], [1.0, 1.0, -3.0, -2.0]])
    # sums [2, 2, -2, 0]: elected [+, +, -, majority(+, +, -) = +]
    assert torch.equal(elect_sign(taus), torch.tensor([1.0, 1.0, -1.0, 1.0]))
    assert torch.equal(ties_merge(taus, k=1.0), torch.tensor([1.0, 1.0, -3.0, 2.0]))


def test_model_scope_trims_globally_and_tensor_scope_per_tensor():
    tv = {"big": torch.tensor([10.0, -20.0, 30.0, -40.0]), "small": torch.tensor([1.0, -2.0, 3.0, -4.0])}
    model = ties_merge([tv], k=0.5, scope="model")  # 4 of 8 entries: all of `big`
    assert torch.equal(model["big"], tv["big"]) and torch.equal(model["small"], torch.zeros(4))
    tensor = ties_merge([tv], k=0.5, scope="tensor")  # 2 of 4 entries in each tensor
    assert torch.equal(tensor["big"], torch.tensor([0.0, 0.0, 30.0, -40.0]))
    assert torch.equal(tensor["small"], torch.tensor([0.0, 0.0, 3.0, -4.0]))


def test_tensor_scope_groups_same_sized_tensors_correctly():
    g = torch.Generator().manual_seed(1)
    tvs = [
        {n: torch.randn(6, 5, generator=g) for n in "abc"} | {"d": torch.randn(7, generator=g)}
        for _ in range(3)
    ]
    together = ties_merge(tvs, k=0.3, lam=0.7, scope="tensor")
    for name in "abcd":  # per-tensor merge of each tensor alone gives the same
        alone = ties_merge([tv[name] for tv in tvs], k=0.3, lam=0.7)
        assert torch.equal(together[name], alone), name


def test_inputs_are_not_modified_and_formats_agree():
    g = torch.Generator().manual_seed(2)
    stacked = torch.randn(3, 4, 5, generator=g)
    copy = stacked.clone()
    a = ties_merge(stacked, k=0.3, lam=1.3)
    b = ties_merge(list(stacked), k=0.3, lam=1.3)
    c = ties_merge([{"w": t} for t in stacked], k=0.3, lam=1.3)["w"]
    assert torch.equal(stacked, copy)
    assert a.shape == (4, 5) and torch.equal(a, b) and torch.equal(a, c)


def test_lambda_scales_and_task_order_does_not_matter():
    g = torch.Generator().manual_seed(3)
    taus = torch.randn(4, 200, generator=g)
    one = ties_merge(taus, k=0.2, lam=1.0)
    assert torch.equal(ties_merge(taus, k=0.2, lam=2.0), 2.0 * one)
    assert torch.equal(ties_merge(4.0 * taus, k=0.2), 4.0 * one)  # powers of two scale exactly
    torch.testing.assert_close(ties_merge(taus.flip(0), k=0.2), one, rtol=0, atol=1e-6)  # sum order


def test_coordinate_permutation_equivariance():
    g = torch.Generator().manual_seed(4)
    taus = torch.randn(3, 100, generator=g)
    perm = torch.randperm(100, generator=g)
    assert torch.equal(ties_merge(taus[:, perm], k=0.2), ties_merge(taus, k=0.2)[perm])


def test_half_precision_accumulates_in_float32():
    taus = torch.full((3, 4), 1000.0, dtype=torch.bfloat16)
    out = task_arithmetic(taus, lam=1.0)
    assert out.dtype == torch.bfloat16 and torch.equal(out, torch.full((4,), 3000.0, dtype=torch.bfloat16))
    assert ties_merge(taus, k=1.0).dtype == torch.bfloat16


def test_state_dicts_non_float_buffers_come_from_base_and_ties_count_once():
    torch.manual_seed(0)

    def net():
        m = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 3))
        m[2].weight = m[0].weight  # tied
        return m

    base, ft = net(), [net() for _ in range(2)]
    for i, m in enumerate(ft):
        m[1].num_batches_tracked += 5 + i
    keys = mergeable_keys(base.state_dict())
    assert "2.weight" not in keys and "0.weight" in keys and "1.num_batches_tracked" not in keys
    merged = merge_state_dicts(base.state_dict(), [m.state_dict() for m in ft], "task_arithmetic", lam=1.0)
    assert merged["1.num_batches_tracked"] == base[1].num_batches_tracked
    expected = ft[0][0].weight + ft[1][0].weight - base[0].weight
    torch.testing.assert_close(merged["0.weight"], expected.detach(), rtol=0, atol=1e-6)
    assert torch.equal(merged["2.weight"], merged["0.weight"])  # the tie survives


def test_weighted_task_arithmetic_by_hand():
    # 0.5 * tau_1 + 2 * tau_2 - tau_3 = [-4.25, 0.375, 0.1875, 1, -0.9375], times lambda = 0.5
    expected = torch.tensor([-2.125, 0.1875, 0.09375, 0.5, -0.46875])
    assert torch.equal(task_arithmetic(TAUS, lam=0.5, weights=[0.5, 2.0, -1.0]), expected)
    assert torch.equal(task_arithmetic(list(TAUS), lam=0.5, weights=[0.5, 2.0, -1.0]), expected)
    as_maps = task_arithmetic([{"x": t} for t in TAUS], lam=0.5, weights=[0.5, 2.0, -1.0])
    assert torch.equal(as_maps["x"], expected)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: ties_merge(TAUS, weights=[1.0, 2.0]), "weights needs one number per task vector (3), got 2"),
        (lambda: ties_merge(TAUS, weights=[[1.0, 2.0, 3.0]]), "weights needs one number per task vector"),
        (lambda: ties_merge(TAUS, weights=[1.0, float("nan"), 1.0]), "weights must be finite"),
        (lambda: task_arithmetic(TAUS, weights=[1.0]), "weights needs one number per task vector (3), got 1"),
        (lambda: ties_merge(TAUS, majority_sign_method="count"), "'total' or 'frequency', got 'count'"),
        (
            lambda: merged_task_vector(
                [{"x": t} for t in TAUS], "task_arithmetic", 0.2, 1.0, "model", None, "frequency"
            ),
            "applies to method 'ties' only",
        ),
    ],
)
def test_bad_weights_and_sign_methods_are_one_line_errors(call, words):
    with pytest.raises(ValueError) as err:
        call()
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_arguments():
    with pytest.raises(ValueError):
        ties_merge(TAUS, k=0.0)
    with pytest.raises(ValueError):
        ties_merge(TAUS, k=20)  # the paper's "20%" is k=0.2 here
    with pytest.raises(ValueError):
        ties_merge([{"a": torch.ones(2)}, {"b": torch.ones(2)}])
