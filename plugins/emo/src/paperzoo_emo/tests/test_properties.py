"""Exact properties of DEMD and of the official EMO term: zero at the target, equality with the exact
Earth Mover Distance (a linear program) for one-hot targets, a frozen cost, and the official term's
relation to DEMD (same gradient, value shifted by the detached target probability)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from paperzoo_emo.loss import cost_matrix, demd, emo_loss, emo_token_losses

V, D = 20, 6


def _emd_lp(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    """The exact EMD: min <T, C> over transport plans T >= 0 with row sums p and column sums q."""
    n = len(p)
    rows = np.kron(np.eye(n), np.ones((1, n)))  # sum_j T[i, j] = p[i]
    cols = np.kron(np.ones((1, n)), np.eye(n))  # sum_i T[i, j] = q[j]
    res = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([p, q]), bounds=(0, None))
    assert res.status == 0
    return float(res.fun)


def test_zero_when_all_mass_is_on_the_target() -> None:
    emb = torch.randn(V, D, dtype=torch.float64)
    targets = torch.arange(V)
    logits = torch.full((V, V), -1e4, dtype=torch.float64)
    logits[targets, targets] = 0.0  # softmax puts all its mass (up to exp(-1e4) = 0) on the target
    # 1 - |e_hat_y|^2 with a unit row rounds to a few ulps of 1
    torch.testing.assert_close(
        demd(logits, targets, emb), torch.zeros(V, dtype=torch.float64), atol=1e-15, rtol=0
    )


def test_zero_when_the_mass_sits_on_tokens_with_the_targets_embedding() -> None:
    emb = torch.randn(V, D, dtype=torch.float64)
    emb[5] = 3.0 * emb[2]  # same direction: cosine 1, cost 0
    emb[9] = 0.5 * emb[2]
    logits = torch.full((1, V), -1e4, dtype=torch.float64)
    logits[0, [2, 5, 9]] = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(
        demd(logits, torch.tensor([2]), emb), torch.zeros(1, dtype=torch.float64), atol=1e-15, rtol=0
    )


@pytest.mark.parametrize("seed", range(4))
def test_equals_the_exact_emd_of_a_one_hot_target(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(V, D, generator=g, dtype=torch.float64)
    logits = 2.0 * torch.randn(5, V, generator=g, dtype=torch.float64)
    targets = torch.randint(V, (5,), generator=g)
    got = demd(logits, targets, emb)
    cost = cost_matrix(emb).clamp_min(0).numpy()  # 1 - cos(e_i, e_i) rounds to +-1e-16
    q = torch.softmax(logits, -1).numpy()
    for i in range(5):
        p = np.zeros(V)
        p[int(targets[i])] = 1.0
        assert abs(float(got[i]) - _emd_lp(p, q[i], cost)) < 1e-9  # the LP solver's tolerance


def test_the_cost_is_frozen_gradients_reach_only_the_logits() -> None:
    emb = torch.randn(V, D, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(4, 7, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(V, (4, 7))
    demd(logits, targets, emb).sum().backward()
    assert emb.grad is None and logits.grad is not None and logits.grad.abs().sum() > 0
    loss = emo_loss(logits, targets, emb)
    assert loss.requires_grad and torch.autograd.grad(loss, logits)[0].abs().sum() > 0
    emo_loss(logits, targets, emb).backward()
    assert emb.grad is None


def test_demd_gradient_in_q_is_minus_the_cosine_to_the_target() -> None:
    # dDEMD/dq_v = C(v, y) (a linear function of q): checked through a direct probability input
    emb = torch.randn(V, D, dtype=torch.float64)
    q = torch.softmax(torch.randn(3, V, dtype=torch.float64), -1).requires_grad_(True)
    targets = torch.tensor([0, 7, 19])
    value = (q * cost_matrix(emb)[targets]).sum()
    (grad,) = torch.autograd.grad(value, q)
    torch.testing.assert_close(grad, cost_matrix(emb)[targets], atol=0, rtol=0)
    logits = torch.log(q.detach())
    torch.testing.assert_close(demd(logits, targets, emb), (q.detach() * cost_matrix(emb)[targets]).sum(-1))


def test_official_term_is_demd_plus_the_detached_target_probability() -> None:
    emb = torch.randn(V, D, dtype=torch.float64)
    logits = torch.randn(3, 8, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(V, (3, 8))
    _, emo, mask = emo_token_losses(logits, targets, emb)
    d = demd(logits, targets, emb).flatten()
    q_y = torch.softmax(logits, -1).gather(-1, targets[..., None]).flatten()
    torch.testing.assert_close(emo, d + q_y.detach(), atol=1e-14, rtol=0)
    g_emo = torch.autograd.grad(emo.sum(), logits)[0]
    g_demd = torch.autograd.grad(d.sum(), logits)[0]
    torch.testing.assert_close(g_emo, g_demd, atol=1e-14, rtol=0)


def test_ignored_labels_contribute_nothing() -> None:
    emb = torch.randn(V, D, dtype=torch.float64)
    logits = torch.randn(2, 6, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(V, (2, 6))
    masked = targets.clone()
    masked[0, 3:] = -100
    keep = masked != -100
    for mode in (1, 2):
        full_kept = emo_loss(logits[keep], targets[keep], emb, mode)
        torch.testing.assert_close(emo_loss(logits, masked, emb, mode), full_kept, atol=1e-14, rtol=0)
        (grad,) = torch.autograd.grad(emo_loss(logits, masked, emb, mode), logits)
        assert torch.equal(grad[0, 3:], torch.zeros_like(grad[0, 3:]))


def test_mode_one_is_ce_plus_rescaled_emo_in_value() -> None:
    # mode 1: 0.5 * (mle + mle/emo * emo) = mle in value per token; its gradient is not CE's
    emb = torch.randn(V, D, dtype=torch.float64)
    logits = torch.randn(10, V, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(V, (10,))
    ce = torch.nn.functional.cross_entropy(logits, targets)
    loss = emo_loss(logits, targets, emb, mode=1)
    # mle * emo / (emo + 1e-10): the official epsilon shifts the value by about 1e-10 * mle / emo
    torch.testing.assert_close(loss, ce, atol=1e-9, rtol=0)
    g_loss = torch.autograd.grad(loss, logits)[0]
    g_ce = torch.autograd.grad(ce, logits)[0]
    assert (g_loss - g_ce).abs().max() > 1e-4


def test_trainer_loss_is_emo_loss_with_the_frozen_starting_head() -> None:
    from paperzoo.errors import ParamError
    from paperzoo_tinylm.model import TinyLMDecoder

    from paperzoo_emo.trainer import EMOTrainer

    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=16)
    trainer = EMOTrainer(mode=2, max_steps=1, progress=False)
    trainer.fixed_cost = model.lm_head.weight.detach().clone()
    x, y = torch.randint(363, (2, 8)), torch.randint(363, (2, 8))
    expected = emo_loss(model(x).logits.float(), y, model.lm_head.weight, mode=2)
    assert torch.equal(trainer.compute_loss(model, (x, y), "language_modeling"), expected)
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)  # the fixed cost does not follow the head; the current one does
    assert not torch.equal(trainer.cost_matrix_source(model), model.lm_head.weight)
    assert torch.equal(EMOTrainer(cost_embedding="current").cost_matrix_source(model), model.lm_head.weight)
    for bad in ({"mode": 3}, {"cost_embedding": "learned"}, {"max_ratio": 0}):
        with pytest.raises(ParamError):
            EMOTrainer(**bad)
