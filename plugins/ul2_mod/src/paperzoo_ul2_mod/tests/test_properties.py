"""Exact and statistical properties of the Mixture-of-Denoisers: each denoiser's corruption rate and mean
span length, the exact inverse, mode tokens, mixing frequencies, prefix splits, and the losses."""

from __future__ import annotations

import math

import pytest
import torch
from paperzoo_tinylm import tokenizer
from paperzoo_tinylm.encdec import TinyLMEncoderDecoder
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.span_corruption import noise_counts
from paperzoo_tinylm.transforms import IGNORE, Transformed

from paperzoo_ul2_mod.denoisers import PAPER_DENOISERS, Denoiser, MixtureOfDenoisers, R, S, X, restore
from paperzoo_ul2_mod.training import decoder_loss, encdec_loss, to_decoder_only

MODE_IDS = {v: k for k, v in tokenizer.MODE_TOKENS.items()}


def _rows(n: int, length: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, length), generator=torch.Generator().manual_seed(seed))


def _spans(targets: list[int]) -> list[int]:
    """Lengths of the noise spans in one row's targets (tokens between sentinels, EOS dropped)."""
    lengths: list[int] = []
    for t in targets:
        if tokenizer.SENTINEL_START <= t < tokenizer.SENTINEL_START + tokenizer.N_SENTINELS:
            lengths.append(0)
        elif t not in (tokenizer.EOS, IGNORE):
            lengths[-1] += 1
    return lengths


@pytest.mark.parametrize(
    "denoiser", PAPER_DENOISERS[:6], ids=lambda d: f"{d.mode}{d.mean_span_length}-{d.rate}"
)
def test_span_denoiser_rate_and_mean_span(denoiser):
    length, n = 512, 32
    out = MixtureOfDenoisers((denoiser,))(_rows(n, length, 0), generator=torch.Generator().manual_seed(1))
    n_noise, n_spans = noise_counts(length, denoiser.rate, denoiser.mean_span_length)
    noise = spans = 0
    for y in out.targets.tolist():
        lengths = _spans(y)
        assert min(lengths) >= 1
        noise += sum(lengths)
        spans += len(lengths)
    # T5's counts are deterministic: the rate is exact up to rounding to whole tokens
    assert noise == n * n_noise and abs(noise / (n * length) - denoiser.rate) <= 0.5 / length
    assert spans == n * n_spans
    # mean span = tokens / spans; spans = round(tokens / mu), so it is mu within 0.5 mu / spans, unless
    # the noise is shorter than one mean span (then a single span holds it all)
    assert noise / spans == pytest.approx(n_noise / n_spans)
    mu = denoiser.mean_span_length
    if n_noise >= mu:
        assert abs(noise / spans - mu) <= 0.5 * mu / n_spans
    else:
        assert n_spans == 1


def test_s_denoiser_mean_suffix_share():
    length, n = 64, 4000
    out = MixtureOfDenoisers((S(0.25),))(_rows(n, length, 2), generator=torch.Generator().manual_seed(3))
    suffix = (out.loss_mask.sum(1) - 1).double()  # minus EOS
    # uniform on 1..31: mean 16 = 0.25 * 64, sd sqrt((31^2 - 1) / 12) = 8.94; 5 standard errors
    assert suffix.min() >= 1 and suffix.max() <= 31
    assert abs(float(suffix.mean()) - 16.0) < 5 * math.sqrt((31**2 - 1) / 12 / n)


def test_s_denoiser_split_is_a_prefix():
    ids = _rows(32, 40, 4)
    out = MixtureOfDenoisers((S(0.25),))(ids, generator=torch.Generator().manual_seed(5))
    for row, x, y in zip(ids.tolist(), out.inputs.tolist(), out.targets.tolist()):
        x = [t for t in x if t != tokenizer.PAD]
        y = [t for t in y if t != IGNORE]
        assert x[0] == tokenizer.MODE_TOKENS["[S]"] and x[-1] == tokenizer.EOS and y[-1] == tokenizer.EOS
        prefix, suffix = x[1:-1], y[:-1]
        assert row[: len(prefix)] == prefix and row[len(prefix) :] == suffix and suffix


def test_inverse_and_mode_tokens():
    ids = _rows(400, 96, 6)
    mixture = MixtureOfDenoisers()
    out = mixture(ids, generator=torch.Generator().manual_seed(7))
    for row, x, y, c in zip(ids.tolist(), out.inputs.tolist(), out.targets.tolist(), out.denoiser.tolist()):
        assert restore(x, y) == row
        assert MODE_IDS[x[0]] == mixture.denoisers[c].mode  # the mode token of the drawn denoiser
        assert sum(t in MODE_IDS for t in x) == 1  # exactly one, first
    assert isinstance(out, Transformed)


def test_mixture_frequencies_match_rates():
    rates = (0.5, 0.3, 0.2)
    mixture = MixtureOfDenoisers((R(), X(), S()), rates)
    n = 6000
    out = mixture(_rows(n, 24, 8), generator=torch.Generator().manual_seed(9))
    counts = torch.bincount(out.denoiser, minlength=3).double()
    chi2 = float(((counts - n * torch.tensor(rates)) ** 2 / (n * torch.tensor(rates))).sum())
    assert chi2 < 13.8  # chi-square, 2 degrees of freedom, p = 0.001
    modes = out.inputs[:, 0]
    for i, d in enumerate(mixture.denoisers):
        assert torch.equal(modes[out.denoiser == i], torch.full_like(modes[out.denoiser == i], d.mode_id))


def test_same_generator_same_batch():
    ids = _rows(8, 48, 10)
    a = MixtureOfDenoisers()(ids, generator=torch.Generator().manual_seed(11))
    b = MixtureOfDenoisers()(ids, generator=torch.Generator().manual_seed(11))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)
    assert torch.equal(a.denoiser, b.denoiser)


def test_decoder_only_layout():
    t = Transformed(
        torch.tensor([[360, 1, 2, 258, 256], [361, 3, 4, 5, 258]]),
        torch.tensor([[260, 7, 258], [6, 258, IGNORE]]),
        torch.tensor([[True, True, True], [True, True, False]]),
    )
    d = to_decoder_only(t)
    # row 0: sequence 360 1 2 258 | 260 7 258: reads all but the last, predicts the targets after the inputs
    assert d.inputs.tolist() == [[360, 1, 2, 258, 260, 7], [361, 3, 4, 5, 258, 6]]
    assert d.targets.tolist() == [[-100, -100, -100, 260, 7, 258], [-100, -100, -100, -100, 6, 258]]


def test_encdec_loss_is_the_teacher_forced_cross_entropy():
    torch.manual_seed(0)
    model = TinyLMEncoderDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=64).double()
    t = MixtureOfDenoisers()(_rows(3, 20, 12), generator=torch.Generator().manual_seed(13))
    loss = encdec_loss(model, t).detach()
    # row by row without padding: sum of -log p over target tokens, averaged over all of them
    total, count = 0.0, 0
    for x, y in zip(t.inputs.tolist(), t.targets.tolist()):
        x = torch.tensor([[i for i in x if i != tokenizer.PAD]])
        y = torch.tensor([[i for i in y if i != IGNORE]])
        dec = torch.cat([torch.tensor([[tokenizer.PAD]]), y[:, :-1]], 1)
        with torch.no_grad():
            logp = model(x, dec).logits.log_softmax(-1)
        total -= float(logp[0].gather(1, y[0, :, None]).sum())
        count += y.shape[1]
    assert float(loss) == pytest.approx(total / count, abs=1e-12)


def test_decoder_loss_ignores_inputs():
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=1, n_heads=2, max_seq_len=64, vocab_size=363)
    t = MixtureOfDenoisers()(_rows(4, 20, 14), generator=torch.Generator().manual_seed(15))
    loss = decoder_loss(model, t)
    loss.backward()
    assert torch.isfinite(loss) and model.tok_embed.weight.grad is not None


def test_bad_denoisers_refused():
    with pytest.raises(ValueError):
        Denoiser("span", "[Q]", 0.15)
    with pytest.raises(ValueError):
        S(0.75)
    with pytest.raises(ValueError):
        MixtureOfDenoisers((R(),), (0.5, 0.5))
