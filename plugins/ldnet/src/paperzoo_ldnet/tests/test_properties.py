"""Exact properties of label drop, the multi-aspect head, the task and the trainer."""

from __future__ import annotations

import math

import pytest
import torch
from paperzoo.errors import ParamError
from paperzoo_tinylm.tokenizer import BOS
from paperzoo_tinylm.transforms import IGNORE

from paperzoo_ldnet.drop import LabelDrop
from paperzoo_ldnet.heads import MultiAspectRelationHead
from paperzoo_ldnet.relations import NULL, f1_of, relation_counts, relation_loss, relation_task


def batch(seed: int = 0, n: int = 64):
    return relation_task(n_train=n, n_val=1, seed=seed).train.tensors


def test_p0_is_identity_bitwise_and_draws_nothing():
    x, y = batch()
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    out = LabelDrop(0.0)(x, y, g)
    assert torch.equal(out.inputs, x) and torch.equal(out.targets, y)
    assert torch.equal(g.get_state(), state)
    assert torch.equal(out.loss_mask, (x >= 184) & (x < 256))


def test_gold_never_dropped_and_p1_drops_every_negative():
    x, y = batch()
    gold_before = (y[..., 0] > NULL).sum(1)
    for p in (0.3, 1.0):
        out = LabelDrop(p)(x, y, torch.Generator().manual_seed(1))
        slot = out.targets[..., 0] != IGNORE
        assert torch.equal((out.targets[..., 0] > NULL).sum(1), gold_before)
        if p == 1.0:
            assert torch.equal(slot.sum(1), gold_before)  # only gold slots remain


def triples(ids, targets):
    """Per row: the set of (label, head token, tail token) and the ordered label list."""
    rows = []
    for i, t in zip(ids.tolist(), targets.tolist()):
        labels = [(tok, tuple(i[p] for p in tt)) for tok, tt in zip(i, t) if tt[0] != IGNORE]
        rows.append(labels)
    return rows


def test_drop_keeps_order_and_targets_follow_their_tokens():
    x, y = batch()
    out = LabelDrop(0.5)(x, y, torch.Generator().manual_seed(2))
    before, after = triples(x, y), triples(out.inputs, out.targets)
    for b, a in zip(before, after):
        it = iter(b)  # `after` is a subsequence of `before`: same labels, same pointed-at tokens, order kept
        assert all(any(lab == c for c in it) for lab in a)
        assert {lab for lab in b if lab[1][0] != BOS} <= set(
            a
        )  # every gold triple (not pointing at <bos>) kept
    # the sentence is untouched and the rows stay right-padded
    n_sent = 20
    assert torch.equal(out.inputs[:, :n_sent], x[:, :n_sent])
    assert torch.equal(out.loss_mask, out.targets[..., 0] != IGNORE)


def test_drop_rate_matches_p():
    x, y = batch(n=512)
    negatives = int((y[..., 0] == NULL).sum())
    out = LabelDrop(0.3)(x, y, torch.Generator().manual_seed(0))
    dropped = negatives - int((out.targets[..., 0] == NULL).sum())
    sd = (negatives * 0.3 * 0.7) ** 0.5
    assert abs(dropped - 0.3 * negatives) < 4 * sd


def test_drop_is_deterministic_under_a_seed_and_validates_p():
    x, y = batch()
    a = LabelDrop(0.5)(x, y, torch.Generator().manual_seed(7))
    b = LabelDrop(0.5)(x, y, torch.Generator().manual_seed(7))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    with pytest.raises(ValueError):
        LabelDrop(1.5)


def test_one_level_equals_levels_with_identical_weights():
    torch.manual_seed(0)
    one = MultiAspectRelationHead(8, n_levels=1, n_relations=6).double()
    many = MultiAspectRelationHead(8, n_levels=3, n_relations=6).double()
    with torch.no_grad():
        many.proj.copy_(one.proj.expand_as(many.proj))
        many.bias.copy_(one.bias.expand_as(many.bias))
    h = torch.randn(2, 7, 8, dtype=torch.float64)
    rel = torch.tensor([[-1, 0, 1, 2, 3, 4, 5], [5, 4, -1, 3, 2, 1, 0]])
    assert (one(h, rel) - many(h, rel)).abs().max() < 1e-12


def test_levels_are_separate_decisions():
    """Changing level 1's weights changes exactly the rows of relations on level 1."""
    torch.manual_seed(0)
    head = MultiAspectRelationHead(8, n_levels=2, n_relations=4)  # levels r % 2
    h = torch.randn(2, 6, 8)
    rel = torch.tensor([[-1, 0, 1, 2, 3, -1], [3, 2, 1, 0, -1, -1]])
    before = head(h, rel)
    with torch.no_grad():
        head.proj[1] += 0.5
    after = head(h, rel)
    on_1 = (rel >= 0) & (rel % 2 == 1)
    assert torch.equal(before[~on_1], after[~on_1])
    assert (before[on_1] - after[on_1]).abs().amin(dim=(-1, -2)).gt(0).all()


def test_closed_form_score_and_key_mask():
    torch.manual_seed(0)
    head = MultiAspectRelationHead(4, n_levels=2, n_relations=2, d_head=3).double()
    h = torch.randn(1, 5, 4, dtype=torch.float64)
    rel = torch.tensor([[-1, 1, 0, -1, -1]])
    keys = torch.tensor([[True, True, True, True, False]])
    out = head(h, rel, keys)
    w, b = head.proj[1], head.bias[1]
    q = h[0, 1] @ w[0] + b[0]
    expected = (h[0, :4] @ w[2] + b[2]) @ q / 3**0.5  # tail pointer of position 1 (level 1)
    assert (out[0, 1, 1, :4] - expected).abs().max() < 1e-12
    assert (out[0, :, :, 4] == torch.finfo(torch.float64).min).all()


def test_head_rejects_bad_levels():
    with pytest.raises(ParamError):
        MultiAspectRelationHead(8, n_levels=2, n_relations=3, levels=[0, 1, 2])


def test_task_layout_and_perfect_logits_score_f1_one():
    data = relation_task(n_train=16, n_val=8, n_distractors=5, val_distractors=20, seed=1)
    x, y = data.train.tensors
    xv, _ = data.val.tensors
    slots = (y[..., 0] != IGNORE).sum(1)
    gold = (y[..., 0] > NULL).sum(1)
    assert torch.equal(slots, gold + 5) and (xv >= 184).logical_and(xv < 256).sum(1).ge(21).all()
    # a gold pointer points at an entity next to its relation's trigger
    b, t = torch.nonzero(y[..., 0] > NULL, as_tuple=True)
    r = x[b, t] - 184
    assert torch.equal(x[b, y[b, t, 0] + 1], 120 + r)
    perfect = torch.nn.functional.one_hot(y.clamp(min=0), x.shape[1]).double() * 10
    assert f1_of(*relation_counts(perfect, y)) == 1.0
    # every slot puts logit 10 on its target and 0 on the T - 1 others: loss log(1 + (T - 1) e^-10)
    expected = math.log(1 + (x.shape[1] - 1) * math.exp(-10))
    assert abs(relation_loss(perfect, y).item() - expected) < 1e-6  # float32 loss
    # predicting NULL everywhere finds nothing: F1 0
    null = torch.nn.functional.one_hot(torch.zeros_like(y), x.shape[1]).double()
    assert relation_counts(null, y) == (0, 0, int(gold.sum()))


def test_f1_closed_form():
    assert f1_of(3, 1, 2) == 6 / 9
    assert f1_of(0, 0, 0) == 0.0
