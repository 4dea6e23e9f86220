"""Exact properties of the masked-diffusion loss, sampler, guidance and ELBO."""

import math

import pytest
import torch
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.tokenizer import MASK

from paperzoo_smdm.diffusion import (
    forward_process,
    guided_logits,
    mdm_elbo,
    mdm_loss,
    mdm_sample,
    reveal_counts,
)

V = 8


class Oracle(torch.nn.Module):
    """Ignores the context: log-probabilities ``log p`` at every position."""

    def __init__(self, p: torch.Tensor) -> None:
        super().__init__()
        self.logp = torch.cat([p.log(), torch.full((MASK + 1 - len(p),), -math.inf, dtype=p.dtype)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logp.expand(*x.shape, -1)


def _encoder(seed: int = 0) -> TinyLMEncoder:
    torch.manual_seed(seed)
    return TinyLMEncoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=32).eval()


def test_loss_weighting_matches_hand_computation():
    ids = torch.tensor([[3, 1, 4, 1], [5, 2, 6, 5]])
    mask = torch.tensor([[True, False, True, False], [False, False, False, True]])
    p_mask = torch.tensor([[0.25] * 4, [0.5] * 4])
    logits = torch.randn(2, 4, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    logp = logits.log_softmax(-1)
    hand = (-logp[0, 0, 3] / 0.25 - logp[0, 2, 4] / 0.25 - logp[1, 3, 5] / 0.5) / 8
    assert torch.allclose(mdm_loss(logits, ids, mask, p_mask), hand, rtol=0, atol=1e-14)


def test_forward_process_masks_with_the_row_probability():
    ids = torch.zeros(4, 20000, dtype=torch.long)
    t = torch.tensor([0.0, 0.1, 0.5, 1.0])
    out = forward_process(ids, 1e-3, torch.Generator().manual_seed(0), t=t)
    rate = out.mask.float().mean(1)
    p = 0.999 * t + 1e-3
    assert torch.all((rate - p).abs() < 4 * (p * (1 - p) / 20000).sqrt() + 1e-9)
    assert torch.equal(out.noisy == MASK, out.mask)


def test_oracle_elbo_equals_length_times_entropy(record_property):
    """i.i.d. tokens from p, a denoiser that outputs p: E[ELBO] = L H(p) exactly (the 1/t weight cancels
    the masking probability). Monte Carlo over sequences and times; tolerance 4 standard errors."""
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.4, 0.3, 0.15, 0.1, 0.05], dtype=torch.float64)
    L, n_seq = 6, 200
    h = float(-(p * p.log()).sum())
    oracle = Oracle(p)
    seqs = torch.multinomial(p, n_seq * L, replacement=True, generator=g).view(n_seq, L)
    vals = torch.tensor([mdm_elbo(oracle, s, 0, 32, 16, g) for s in seqs])
    mean, se = float(vals.mean()), float(vals.std() / math.sqrt(n_seq))
    record_property("oracle_elbo_minus_LH", mean - L * h)
    assert abs(mean - L * h) < 4 * se
    # and for one fixed sequence the expectation over masks is exactly -log p(x)
    x = seqs[0]
    many = mdm_elbo(oracle, x, 0, 4096, 64, g)
    exact = float(-p.log()[x].sum())
    assert abs(many - exact) < 0.03 * exact


def test_k_equals_l_reveals_one_token_per_step_and_never_changes_them():
    model = _encoder()
    x = torch.tensor([[257, 65, 66, 67] + [MASK] * 6, [257, 70, 71, 72] + [MASK] * 6])
    hist: list[torch.Tensor] = []
    out = mdm_sample(model, x, 6, generator=torch.Generator().manual_seed(0), history=hist)
    prev = x
    for step in hist:
        newly = (prev == MASK) & (step != MASK)
        assert torch.equal(newly.sum(1), torch.ones(2, dtype=torch.long))
        assert torch.equal(step[prev != MASK], prev[prev != MASK])  # revealed tokens stay
        prev = step
    assert torch.equal(hist[-1], out) and not (out == MASK).any()


@pytest.mark.parametrize("remasking", ["confidence", "random"])
def test_revealed_tokens_never_change(remasking):
    model = _encoder(1)
    x = torch.tensor([[257, 65] + [MASK] * 10])
    hist: list[torch.Tensor] = []
    mdm_sample(
        model,
        x,
        5,
        temperature=1.0,
        remasking=remasking,
        generator=torch.Generator().manual_seed(3),
        history=hist,
    )
    for a, b in zip([x] + hist[:-1], hist):
        assert torch.equal(b[a != MASK], a[a != MASK])
        assert (b == MASK).sum() <= (a == MASK).sum()
    assert not (hist[-1] == MASK).any()


@pytest.mark.parametrize("remasking", ["confidence", "random"])
def test_cfg_zero_equals_conditional_sampling_bitwise(remasking):
    model = _encoder(2)
    x = torch.tensor([[257, 65, 66, 67, 68] + [MASK] * 7] * 2)
    kw = dict(steps=4, temperature=1.0, remasking=remasking)
    plain = mdm_sample(model, x, generator=torch.Generator().manual_seed(5), **kw)
    guided = mdm_sample(model, x, cfg_scale=0.0, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(plain, guided)


def test_guidance_formula():
    model = _encoder(3)
    x = torch.tensor([[257, 65, 66, MASK, MASK]])
    prompt = x != MASK
    cond = model(x).logits
    un = model(torch.where(prompt, MASK, x)).logits
    w = 0.7
    assert torch.allclose(guided_logits(model, x, prompt, w), (1 + w) * cond - w * un, atol=1e-5)
    assert not torch.allclose(cond, un, atol=1e-3)  # the guidance pass does see a different input


def test_reveal_schedules():
    assert reveal_counts(6, 6) == [1] * 6
    assert reveal_counts(10, 4) == [2, 3, 2, 3] and sum(reveal_counts(7, 3)) == 7
    # the official int(m (1 - s/t)) with eps = 1e-5: the first step floors 6 (1 - eps) / 6 to 0
    assert reveal_counts(6, 6, "official") == [0, 1, 1, 1, 1, 2]


def test_elbo_is_deterministic_with_a_seed_and_masks_only_the_target():
    model = _encoder(4)
    ids = torch.tensor([257, 65, 66, 67, 68, 69])
    a = mdm_elbo(model, ids, 3, 16, 8, torch.Generator().manual_seed(0))
    b = mdm_elbo(model, ids, 3, 16, 8, torch.Generator().manual_seed(0))
    assert a == b
    seen: list[torch.Tensor] = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x.clone())
            return model(x).logits

    mdm_elbo(Spy(), ids, 3, 16, 8, torch.Generator().manual_seed(0))
    inputs = torch.cat(seen)
    assert torch.equal(inputs[:, :3], ids[:3].expand(16, 3))  # the prompt is never masked
    assert (inputs[:, 3:] == MASK).any()
