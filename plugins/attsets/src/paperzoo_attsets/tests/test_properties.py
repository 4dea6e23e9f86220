"""Exact properties of AttSets pooling, the set network and the FASet two-stage trainer."""

import pytest
import torch
from paperzoo.trainer import Run

from paperzoo_attsets.data import attsets_informative_mean, make_sets
from paperzoo_attsets.faset import FASetTwoStage, attsets_parameters, cut_sets
from paperzoo_attsets.pool import AttSetsPool, AttSetsSetNet, masked_max, masked_mean


def _pool(d: int, seed: int = 0) -> AttSetsPool:
    torch.manual_seed(seed)
    return AttSetsPool(d).double()


def test_permutation_invariance_float64():
    pool = _pool(6)
    x = torch.randn(4, 9, 6, dtype=torch.float64)
    ref = pool(x)
    for seed in range(5):
        perm = torch.randperm(9, generator=torch.Generator().manual_seed(seed))
        err = (pool(x[:, perm]) - ref).abs().max().item()
        assert err < 1e-14, err
    assert (pool(x + 0.1 * torch.randn_like(x)) - ref).abs().max() > 1e-3  # not a constant map


def test_equations_by_hand():
    pool = _pool(3, seed=1)
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    c = x @ pool.score.weight.T + pool.score.bias
    s = torch.exp(c) / torch.exp(c).sum(1, keepdim=True)
    assert (pool(x) - (s * x).sum(1)).abs().max() < 1e-14


def test_constant_scores_give_mean_pooling_exactly():
    pool = _pool(5)
    with torch.no_grad():
        pool.score.weight.zero_()
        pool.score.bias.fill_(3.7)
    for n in (1, 2, 4, 8, 16):  # 1/n is exact for powers of two: the same bits as the mean
        x = torch.randn(3, n, 5, dtype=torch.float64)
        assert torch.equal(pool(x), x.mean(1)), n
    x = torch.randn(3, 7, 5, dtype=torch.float64)  # otherwise within rounding of 1/n
    assert (pool(x) - x.mean(1)).abs().max() < 1e-15


def test_any_set_size_and_single_element_is_identity():
    pool = _pool(4)
    for n in (1, 2, 3, 17, 64):
        assert pool(torch.randn(2, n, 4, dtype=torch.float64)).shape == (2, 4)
    x = torch.randn(5, 1, 4, dtype=torch.float64)
    assert torch.equal(pool(x), x[:, 0])


def test_masked_padding_is_ignored():
    pool = _pool(4)
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    padded = torch.cat([x, torch.full((2, 4, 4), float("inf"), dtype=torch.float64)], 1)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(3))
    mask = torch.tensor([[True] * 3 + [False] * 4] * 2)
    out = pool(padded[:, perm], mask[:, perm])
    assert (out - pool(x)).abs().max() < 1e-14
    # sets of different sizes in one batch: each equals its own unpadded result
    sizes = [1, 5]
    xs = [torch.randn(1, n, 4, dtype=torch.float64) for n in sizes]
    batch = torch.zeros(2, 5, 4, dtype=torch.float64)
    for i, xi in enumerate(xs):
        batch[i, : sizes[i]] = xi[0]
    got = pool(batch, torch.arange(5)[None] < torch.tensor(sizes)[:, None])
    for i, xi in enumerate(xs):
        assert (got[i] - pool(xi)[0]).abs().max() < 1e-14


def test_masked_baselines():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    mask = torch.tensor([[True, True, False, False, False], [True] * 5])
    assert torch.allclose(masked_mean(x, mask)[0], x[0, :2].mean(0), atol=0, rtol=1e-15)
    assert torch.equal(masked_max(x, mask)[0], x[0, :2].amax(0))
    assert torch.equal(masked_max(x, mask)[1], x[1].amax(0))


def test_set_net_is_invariant_and_reads_the_mask_channel():
    torch.manual_seed(0)
    x, _ = make_sets(6, (2, 5, 8), features=4, max_size=10, seed=1)
    for pooling in ("attsets", "mean", "max"):
        net = AttSetsSetNet(4, 16, 1, pooling).double()
        x64 = x.double()
        perm = torch.randperm(10, generator=torch.Generator().manual_seed(2))
        assert (net(x64[:, perm]) - net(x64)).abs().max() < 1e-13, pooling
        junk = x64.clone()
        junk[..., :-1] += 50.0 * (junk[..., -1:] < 0.5)  # garbage in padded rows only
        assert (net(junk) - net(x64)).abs().max() < 1e-13, pooling


def test_dataset_target_is_mean_of_flagged_values():
    x, y = make_sets(50, (1, 4, 8), features=4, max_size=8, seed=0)
    flag, value, valid = x[..., 0], x[..., 1], x[..., -1]
    assert torch.all(flag <= valid) and torch.all(flag.sum(1) >= 1) and torch.all(flag.sum(1) <= 3)
    assert torch.allclose(y[:, 0], (flag * value).sum(1) / flag.sum(1), atol=1e-6)


def test_cut_sets_keeps_size_real_elements():
    x, _ = make_sets(20, (3, 8), seed=2)
    cut = cut_sets(x, 2, torch.Generator().manual_seed(0))
    n_before, n_after = (x[..., -1] > 0.5).sum(1), (cut[..., -1] > 0.5).sum(1)
    assert torch.equal(n_after, n_before.clamp(max=2))
    kept = cut[..., -1] > 0.5
    assert torch.equal(cut[kept], x[kept])  # kept rows are unchanged, dropped ones all zero
    assert torch.all(cut[~kept] == 0)


def _faset_run(stage1_set_size, stage2_random_size, steps=(3, 4)):
    torch.manual_seed(0)
    data = attsets_informative_mean(n_train=64, n_val=16)
    model = AttSetsSetNet(4, 8)

    def make_optimizer(params):
        return torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1), None

    trainer = FASetTwoStage(
        stage1_set_size, stage2_random_size, max_steps=steps[0], batch_size=16, progress=False
    )
    snapshots = {}

    class Spy:
        def on_train_start(self, t):
            snapshots[t.stage] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    trainer.callbacks.append(Spy())
    run = Run(model=model, data=data, optimizer=None, make_optimizer=make_optimizer, seed=0)
    trainer.fit(run)
    return model, snapshots


@pytest.mark.parametrize("cuts", [(1, True), (None, False)])
def test_faset_stage2_leaves_backbone_bitwise_unchanged(cuts):
    model, snaps = _faset_run(*cuts)
    end = model.state_dict()
    att = {n for n, _ in model.named_parameters() if n.startswith("pool.")}
    assert att == {"pool.score.weight", "pool.score.bias"}
    for name, value in end.items():
        before_stage2, before_stage1 = snaps[1][name], snaps[0][name]
        if name in att:  # stage 1 froze AttSets; stage 2 trained it (AdamW: even the bias moves)
            assert torch.equal(before_stage2, before_stage1), name
            assert not torch.equal(value, before_stage2), name
        else:  # stage 1 trained the backbone; stage 2 left it untouched
            assert not torch.equal(before_stage2, before_stage1), name
            assert torch.equal(value, before_stage2), name
    assert all(p.requires_grad for p in model.parameters())  # unfrozen at the end


def test_faset_refuses_a_model_without_attsets():
    from paperzoo.errors import ParamError

    trainer = FASetTwoStage(max_steps=1, batch_size=4, progress=False)
    model = AttSetsSetNet(4, 8, pooling="mean")
    run = Run(
        model=model,
        data=attsets_informative_mean(8, 4),
        make_optimizer=lambda p: (torch.optim.SGD(p, 0.1), None),
    )
    with pytest.raises(ParamError, match="AttSets"):
        trainer.fit(run)
    assert attsets_parameters(model) == []
