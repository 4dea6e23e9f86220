"""Exact properties of DIN: padding contributes nothing, Dice's modes, weights without softmax, the
mini-batch aware regulariser."""

import torch

from paperzoo_din.attention import DinActivationUnit
from paperzoo_din.dice import DinDice
from paperzoo_din.model import DinModel
from paperzoo_din.regularizer import id_counts, mini_batch_aware_l2


def _unit(activation: str = "dice") -> DinActivationUnit:
    torch.manual_seed(0)
    unit = DinActivationUnit(4, (8,), activation).double()
    with torch.no_grad():
        for p in unit.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return unit


def test_padded_behaviours_contribute_zero_in_train_and_eval():
    unit = _unit()
    q, keys = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 5, 4, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    junk = keys.clone()
    junk[~mask] = 100 * torch.randn(int((~mask).sum()), 4, dtype=torch.float64)
    for train in (True, False):
        unit.train(train)
        a, b = unit.pool(q, keys, mask), unit.pool(q, junk, mask)
        assert torch.allclose(a, b, atol=1e-12)
        assert torch.equal(
            unit.weights(q, junk, mask)[~mask], torch.zeros(int((~mask).sum()), dtype=torch.float64)
        )
    # the same rows without their padding give the same interest vector (train mode: masked statistics)
    unit.train()
    assert torch.allclose(
        unit.pool(q[2:3], keys[2:3, :1]), unit.pool(q[2:3], keys[2:3], mask[2:3]), atol=1e-12
    )


def test_weights_are_not_normalised_and_sum_pooling_is_the_constant_weight_case():
    unit = _unit("sigmoid").eval()
    q, keys = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 6, 4, dtype=torch.float64)
    w = unit.weights(q, keys)
    assert not torch.allclose(w.sum(-1), torch.ones(2, dtype=torch.float64))
    with torch.no_grad():  # zero the score weights: w_i = bias for every behaviour -> bias * sum-pooling
        unit.score.weight.zero_()
        unit.score.bias.fill_(1.0)
    assert torch.allclose(unit.pool(q, keys), keys.sum(1), atol=1e-12)
    unit.weight_normalization = True  # softmax of equal scores: mean pooling
    assert torch.allclose(unit.pool(q, keys), keys.mean(1), atol=1e-12)


def test_dice_closed_form_train_batch_statistics():
    torch.manual_seed(0)
    dice = DinDice(3).double()
    with torch.no_grad():
        dice.alpha.copy_(torch.tensor([0.0, 0.5, -1.0]))
    x = torch.randn(10, 3, dtype=torch.float64)
    p = torch.sigmoid((x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-8))
    assert torch.allclose(dice(x), p * x + (1 - p) * dice.alpha * x, atol=1e-14)
    assert torch.allclose(dice.running_mean, 0.1 * x.mean(0), atol=1e-14)
    assert torch.allclose(dice.running_var, 0.9 + 0.1 * x.var(0, unbiased=True), atol=1e-14)


def test_dice_eval_uses_running_statistics_not_the_batch():
    dice = DinDice(2).double().eval()
    with torch.no_grad():
        dice.running_mean.copy_(torch.tensor([1.0, -2.0]))
        dice.running_var.copy_(torch.tensor([4.0, 0.25]))
        dice.alpha.fill_(0.25)
    x = torch.randn(7, 2, dtype=torch.float64)
    p = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + 1e-8))
    assert torch.allclose(dice(x), p * x + (1 - p) * 0.25 * x, atol=1e-14)
    assert torch.allclose(dice(x[:1]), dice(x)[:1], atol=1e-14)  # a row's output is independent of the batch
    assert torch.equal(dice.running_mean, torch.tensor([1.0, -2.0], dtype=torch.float64))  # not updated


def test_dice_all_padding_training_batch_leaves_running_statistics_unchanged():
    dice = DinDice(2).double().train()
    with torch.no_grad():
        dice.running_mean.copy_(torch.tensor([1.0, -2.0]))
        dice.running_var.copy_(torch.tensor([4.0, 0.25]))
        dice.alpha.fill_(0.25)
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    out = dice(x, torch.zeros(3, 5, dtype=torch.bool))  # no real behaviour in the batch
    assert torch.equal(dice.running_mean, torch.tensor([1.0, -2.0], dtype=torch.float64))
    assert torch.equal(dice.running_var, torch.tensor([4.0, 0.25], dtype=torch.float64))
    p = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + 1e-8))
    assert torch.allclose(out, p * x + (1 - p) * 0.25 * x, atol=1e-14)  # normalised by the running stats
    unit = _unit().train()
    q, keys = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    assert torch.equal(
        unit.pool(q, keys, torch.zeros(2, 3, dtype=torch.bool)), torch.zeros(2, 4, dtype=torch.float64)
    )
    stats = [b for name, b in unit.named_buffers() if name.endswith(("running_mean", "running_var"))]
    assert stats and all(bool(torch.isfinite(b).all()) for b in stats)


def test_dice_with_large_alpha_one_is_identity():
    dice = DinDice(4)
    with torch.no_grad():
        dice.alpha.fill_(1.0)
    x = torch.randn(5, 4)
    assert torch.allclose(dice(x), x, atol=1e-6)  # p x + (1 - p) x = x


def test_din_model_ignores_padding_and_candidate_changes_the_interest():
    torch.manual_seed(0)
    model = DinModel([5, 20, 4], 4, hidden=(8,), attention_hidden=(8,)).eval()
    x = torch.tensor([[1, 3, 2, 4, 5, 0, 0], [2, 7, 1, 9, 0, 0, 0]])
    assert torch.allclose(model(x), model(x[:, :5]), atol=1e-6)  # trailing all-padding columns
    assert model(x).shape == (2, 2) and torch.equal(model(x)[:, 0], torch.zeros(2))


def test_mini_batch_aware_l2_matches_the_paper_formula_and_touches_only_present_ids():
    torch.manual_seed(0)
    weight = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    train_ids = torch.tensor([1, 1, 2, 3, 3, 3, 7, 0, 0])
    counts = id_counts(train_ids, 9)
    batch = torch.tensor([[3, 1, 0], [3, 7, 0]])
    reg = mini_batch_aware_l2(weight, batch, counts)
    expected = sum(weight[j].pow(2).sum() / n for j, n in ((1, 2), (3, 3), (7, 1)))
    assert torch.allclose(reg, expected, atol=1e-14)
    reg.backward()
    untouched = [j for j in range(10) if j not in (1, 3, 7)]
    assert torch.equal(weight.grad[untouched], torch.zeros(len(untouched), 3, dtype=torch.float64))
    assert torch.allclose(weight.grad[3], 2 * weight[3].detach() / 3, atol=1e-14)
