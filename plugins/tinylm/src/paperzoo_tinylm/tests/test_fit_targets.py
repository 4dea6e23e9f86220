"""``fit_targets``, the short training loop of the claim tests: deterministic for a seed, it learns a task's
answers, and it hands the model back in eval mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tasks import copy
from paperzoo_tinylm.training import fit_targets

MODEL = {"d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 32}


def _answer_loss(model: TinyLMDecoder, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model(x).logits.flatten(0, 1), y.flatten(), ignore_index=-100))


def _trained(seed: int, steps: int, x: torch.Tensor, y: torch.Tensor) -> TinyLMDecoder:
    torch.manual_seed(0)
    return fit_targets(TinyLMDecoder(**MODEL), x, y, steps=steps, batch=16, lr=1e-2, seed=seed)


def test_same_seed_same_weights_and_eval_mode():
    x, y = copy(n_samples=64, length=4, n_symbols=4, seed=0).train.tensors
    a, b, c = _trained(1, 5, x, y), _trained(1, 5, x, y), _trained(2, 5, x, y)
    assert not a.training
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_it_learns_the_answers():
    data = copy(n_samples=256, length=4, n_symbols=4, seed=0)
    x, y = data.train.tensors
    xv, yv = data.val.tensors
    torch.manual_seed(0)
    untrained = TinyLMDecoder(**MODEL).eval()
    trained = _trained(0, 60, x, y)
    assert _answer_loss(trained, xv, yv) < 0.5 * _answer_loss(untrained, xv, yv)


def test_loss_fn_sees_the_drawn_rows_and_replaces_the_loss():
    x, y = copy(n_samples=64, length=4, n_symbols=4, seed=0).train.tensors
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def same_ce(model: TinyLMDecoder, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        seen.append((xb, yb))
        return F.cross_entropy(model(xb).logits.flatten(0, 1), yb.flatten(), ignore_index=-100)

    def first_target_only(model: TinyLMDecoder, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        keep = torch.full_like(yb, -100)
        first = (yb != -100).int().argmax(1)
        keep[torch.arange(len(yb)), first] = yb[torch.arange(len(yb)), first]
        return F.cross_entropy(model(xb).logits.flatten(0, 1), keep.flatten(), ignore_index=-100)

    def trained(loss_fn=None) -> TinyLMDecoder:
        torch.manual_seed(0)
        model = TinyLMDecoder(**MODEL)
        return fit_targets(model, x, y, steps=5, batch=16, lr=1e-2, seed=3, loss_fn=loss_fn)

    default, custom, other = trained(), trained(same_ce), trained(first_target_only)
    assert not custom.training
    for (name, pa), pb in zip(default.named_parameters(), custom.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    g = torch.Generator().manual_seed(3)
    assert len(seen) == 5
    for xb, yb in seen:
        idx = torch.randint(len(x), (16,), generator=g)
        assert torch.equal(xb, x[idx]) and torch.equal(yb, y[idx])
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(default.parameters(), other.parameters(), strict=True)
    )
