"""Per-token loss weights of ``lm_loss``: ones reproduce the plain loss bit for bit, zeros drop targets,
and any weights give ``sum(w * ce) / sum(w)`` of an independent per-token cross-entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss


def _model_and_ids(seed: int, b: int, t: int) -> tuple[TinyLMDecoder, torch.Tensor]:
    torch.manual_seed(seed)
    model = TinyLMDecoder(d_model=32, n_layers=1, n_heads=2, max_seq_len=128)
    return model, torch.randint(363, (b, t))


@pytest.mark.parametrize(("seed", "b", "t"), [(0, 2, 9), (3, 6, 56), (5, 7, 90), (7, 1, 128)])
def test_ones_equal_the_plain_loss_bitwise(seed: int, b: int, t: int) -> None:
    model, ids = _model_and_ids(seed, b, t)
    plain = lm_loss(model, ids)
    assert torch.equal(lm_loss(model, ids, torch.ones(b, t)), plain)
    assert torch.equal(lm_loss(model, ids, torch.ones(b, t - 1, dtype=torch.float64)), plain)
    g_plain = torch.autograd.grad(plain, list(model.parameters()))
    g_ones = torch.autograd.grad(lm_loss(model, ids, torch.ones(b, t)), list(model.parameters()))
    assert all(torch.equal(x, y) for x, y in zip(g_plain, g_ones))


def test_zero_weights_ignore_those_targets() -> None:
    model, ids = _model_and_ids(1, 3, 12)
    weights = torch.ones(3, 12)
    weights[0, 4:] = 0.0
    weights[2, 7] = 0.0
    logits = model(ids).logits[:, :-1].float()
    keep = weights[:, 1:].bool()
    expected = F.cross_entropy(logits[keep], ids[:, 1:][keep])
    got = lm_loss(model, ids, weights)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=0)
    # Row 0's dropped targets are its last tokens: changing them (as inputs they feed only later positions,
    # whose targets are dropped too) must not move the loss beyond float32 rounding.
    changed = ids.clone()
    changed[0, 4:] = (ids[0, 4:] + 1) % 363
    torch.testing.assert_close(lm_loss(model, changed, weights), got, rtol=1e-6, atol=0)
    assert not torch.allclose(lm_loss(model, changed), lm_loss(model, ids))


def test_general_weights_are_a_weighted_mean() -> None:
    model, ids = _model_and_ids(2, 4, 20)
    weights = torch.rand(4, 19, generator=torch.Generator().manual_seed(0))
    logits = model(ids).logits[:, :-1].double()
    ce = F.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten(), reduction="none")
    expected = (ce * weights.double().flatten()).sum() / weights.double().sum()
    torch.testing.assert_close(lm_loss(model, ids, weights).double(), expected, rtol=1e-6, atol=0)


def test_no_gradient_into_the_weights() -> None:
    model, ids = _model_and_ids(4, 2, 10)
    weights = torch.rand(2, 10, requires_grad=True)
    lm_loss(model, ids, weights).backward()
    assert weights.grad is None


def test_wrong_weight_shape_is_refused() -> None:
    model, ids = _model_and_ids(0, 2, 9)
    with pytest.raises(ValueError, match=r"weights must be \[B, T\]"):
        lm_loss(model, ids, torch.ones(2, 7))
