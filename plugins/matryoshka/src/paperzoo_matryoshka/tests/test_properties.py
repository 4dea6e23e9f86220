"""Exact properties: MRL-E classifiers are views of one weight; truncated logits equal the full head on
the zero-padded embedding; M = {d} is plain cross-entropy; the loss is the hand-weighted sum; the
trainer and evaluator read the embedding of any model with the head; bad input refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from paperzoo.data import DataBundle
from torch import nn
from torch.utils.data import TensorDataset

from paperzoo_matryoshka.evaluate import NestedDimAccuracy
from paperzoo_matryoshka.head import MatryoshkaHead
from paperzoo_matryoshka.loss import matryoshka_ce_loss
from paperzoo_matryoshka.trainer import MatryoshkaTrainer


def _data(n=20, d=32, c=5, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, c, (n,), generator=g)


def test_mrl_e_heads_share_storage():
    head = MatryoshkaHead(32, 5)
    assert head.dims == [8, 16, 32]
    full = head.classifier.weight
    for m in head.dims:
        w, b = head.classifier_at(m)
        assert w.data_ptr() == full.data_ptr()
        assert w.untyped_storage().data_ptr() == full.untyped_storage().data_ptr()
        assert w.shape == (5, m) and torch.equal(w, full[:, :m]) and b is head.classifier.bias
    assert sum(p.numel() for p in head.parameters()) == 32 * 5 + 5  # one classifier, no per-dim copies


def test_mrl_e_logits_equal_full_head_on_zero_padded_embedding():
    torch.manual_seed(0)
    head = MatryoshkaHead(32, 5).double()
    z, _ = _data(dtype=torch.float64)
    for m in (1, 8, 13, 32):
        padded = torch.cat([z[:, :m], torch.zeros(len(z), 32 - m, dtype=z.dtype)], dim=1)
        assert torch.allclose(head.logits_at(z, m), head.classifier(padded), rtol=0, atol=1e-13)
    assert torch.equal(head.logits_at(z, 32), head.classifier(z))
    head.truncation = 8
    assert torch.equal(head(z), head.logits_at(z, 8))


def test_loss_with_only_d_is_plain_cross_entropy_bitwise():
    torch.manual_seed(0)
    z, y = _data()
    for efficient in (True, False):
        head = MatryoshkaHead(32, 5, dims=[8, 16, 32], efficient=efficient)
        full = head.classifier if efficient else head.classifiers[-1]
        assert torch.equal(matryoshka_ce_loss(head, z, y, dims=[32]), F.cross_entropy(full(z), y))


def test_loss_is_hand_weighted_sum():
    torch.manual_seed(0)
    z, y = _data()
    head = MatryoshkaHead(32, 5)
    w, b = head.classifier.weight, head.classifier.bias
    c = [0.5, 1.0, 3.0]
    by_hand = (
        c[0] * F.cross_entropy(F.linear(z[:, :8], w[:, :8], b), y)
        + c[1] * F.cross_entropy(F.linear(z[:, :16], w[:, :16], b), y)
        + c[2] * F.cross_entropy(F.linear(z, w, b), y)
    )
    assert torch.equal(matryoshka_ce_loss(head, z, y, weights=c), by_hand)
    mrl = MatryoshkaHead(32, 5, efficient=False)
    by_hand = sum(F.cross_entropy(lin(z[:, :m]), y) for m, lin in zip([8, 16, 32], mrl.classifiers))
    assert torch.allclose(matryoshka_ce_loss(mrl, z, y), by_hand, rtol=0, atol=1e-6)


def test_mrl_e_gradient_reaches_the_shared_weight_per_prefix():
    torch.manual_seed(0)
    z, y = _data()
    head = MatryoshkaHead(32, 5)
    matryoshka_ce_loss(head, z, y).backward()
    total = head.classifier.weight.grad.clone()
    head.zero_grad()
    F.cross_entropy(head.classifier(z), y).backward()  # only the m = 32 term touches columns 16..31
    assert torch.allclose(total[:, 16:], head.classifier.weight.grad[:, 16:], rtol=0, atol=1e-7)
    assert not torch.allclose(total[:, :8], head.classifier.weight.grad[:, :8], atol=1e-3)


def test_encoder_head_and_mrl_variant():
    head = MatryoshkaHead(16, 3, dims=[4, 16], efficient=False, encoder_in_features=8, encoder_hidden=[12])
    assert [tuple(c.weight.shape) for c in head.classifiers] == [(3, 4), (3, 16)]
    assert head(torch.randn(2, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="dims"):
        head.logits_at(torch.randn(2, 16), 8)
    with pytest.raises(ValueError, match="end at"):
        MatryoshkaHead(16, 3, dims=[4, 8])
    with pytest.raises(ValueError, match="increasing"):
        MatryoshkaHead(16, 3, dims=[8, 4, 16])


def test_trainer_loss_on_a_model_with_the_head():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(10, 32), nn.Tanh())
    model = nn.Sequential(encoder, MatryoshkaHead(32, 5))  # any encoder whose output is z
    x, y = torch.randn(8, 10), torch.randint(0, 5, (8,))
    trainer = MatryoshkaTrainer(dims=[8, 32], weights=[2.0, 1.0], progress=False)
    got = trainer.compute_loss(model, (x, y), "classification")
    assert torch.equal(got, matryoshka_ce_loss(model[1], encoder(x), y, [8, 32], [2.0, 1.0]))
    with pytest.raises(ValueError, match="matryoshka_head"):
        trainer.compute_loss(nn.Linear(10, 5), (x, y), "classification")
    with pytest.raises(ValueError, match="classification"):
        trainer.compute_loss(model, (x, y), "regression")


def test_evaluator_truncates_any_final_linear():
    torch.manual_seed(0)
    x, y = torch.randn(30, 6), torch.randint(0, 4, (30,))
    data = DataBundle(train=TensorDataset(x, y), val=TensorDataset(x, y), task="classification")
    plain = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    z = plain[1](plain[0](x)).detach()
    got = NestedDimAccuracy(dims=[2, 8, 16], batch_size=7)(plain, data)
    for m in (2, 8, 16):
        padded = torch.cat([z[:, :m], torch.zeros(30, 16 - m)], 1)
        expected = int((plain[2](padded).argmax(-1) == y).sum()) / 30
        assert got[f"accuracy_d{m}"] == pytest.approx(expected, abs=1e-12)
    head = MatryoshkaHead(16, 4, dims=[8, 16], efficient=False, encoder_in_features=6, encoder_hidden=[])
    got = NestedDimAccuracy(dims=[8, 16])(head, data)
    zh = head.encoder(x).detach()
    assert got["accuracy_d8"] == int((head.classifiers[0](zh[:, :8]).argmax(-1) == y).sum()) / 30
    with pytest.raises(ValueError, match="embedding"):
        NestedDimAccuracy(dims=[8, 32])(plain, data)
