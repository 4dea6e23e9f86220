"""Exact properties of the DPRoPE frequency choice, the histogram, the layer and the decoder."""

import math

import pytest
import torch
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.positions import Rotary, default_inv_freq

from paperzoo_dprope.layer import DPRoPEDecoder, RopeDistributionalScaling
from paperzoo_dprope.scaling import EPS, DPRoPEInvFreq, angle_histogram, dprope_inv_freq, strategy_divergences


@pytest.mark.parametrize("head_dim,theta,length", [(16, 10000.0, 64), (64, 500000.0, 100), (128, 10000.0, 7)])
def test_scale_one_returns_original_bitwise(head_dim, theta, length):
    base = default_inv_freq(head_dim, theta)
    assert torch.equal(dprope_inv_freq(base, length, length), base)
    assert torch.equal(DPRoPEInvFreq(length, length)(head_dim, theta), base)


def test_histogram_hand_case():
    """inv_freq 1 rad, positions 0..9, 6 bins of 60 degrees: angles 0, 1, .., 6 and 7 - 2pi, 8 - 2pi,
    9 - 2pi (0.72, 1.72, 2.72) rad fall in bins 0 0 1 2 3 4 5 0 1 2 (no angle is near a bin edge)."""
    got = angle_histogram(torch.tensor([1.0]), 10, intervals=6)
    counts = torch.tensor([[3.0, 2, 2, 1, 1, 1]], dtype=torch.float64)
    assert torch.equal(got, (counts + EPS) / 10)
    assert EPS == 2.0**-14


def test_integer_periods_choose_extrapolation():
    """A frequency with a period of n positions, n dividing L_train: extrapolation repeats the training
    angles (near-zero divergence); interpolation puts angles between them (about log 4 = 1.39)."""
    inv = torch.tensor([2 * math.pi / n for n in (2, 4, 8, 16, 32)])
    kl = strategy_divergences(inv, 64, 256)
    assert (kl[0] < 0.1).all() and (kl[1] > 1.3).all()
    assert torch.equal(dprope_inv_freq(inv, 64, 256), inv)


@pytest.mark.parametrize("head_dim,train_len,factor", [(16, 64, 4), (64, 128, 8), (128, 512, 2)])
def test_low_frequencies_choose_interpolation(head_dim, train_len, factor):
    """A dimension that turns less than once over the extended range: interpolation maps the extended
    angles onto exactly the training range (divergence near 0), extrapolation leaves it (about log s)."""
    base = default_inv_freq(head_dim, 10000.0)
    target = train_len * factor
    low = base * target < 2 * math.pi
    assert low.any()
    got = dprope_inv_freq(base, train_len, target)
    assert torch.equal(got[low], base[low] / factor)
    kl = strategy_divergences(base, train_len, target)[:, low]
    assert (kl[1] < 0.05).all() and (kl[0] > 0.5 * math.log(factor)).all()


def test_choice_is_per_dimension_argmin():
    base = default_inv_freq(64, 10000.0)
    kl = strategy_divergences(base, 64, 256)
    expected = torch.where(kl[1] < kl[0], base / 4, base)
    assert torch.equal(dprope_inv_freq(base, 64, 256), expected)
    assert (expected == base).any() and (expected != base).any()  # a genuine mixture here


def test_layer_rotates_like_tinylm_rotary():
    layer = RopeDistributionalScaling(16, 64, 256)
    rotary = Rotary(16, 10000.0, inv_freq=layer.inv_freq)
    x = torch.randn(2, 3, 20, 16)
    cos, sin = rotary(torch.arange(20), x.dtype)
    assert torch.equal(layer(x), x * cos + torch.cat((-x[..., 8:], x[..., :8]), -1) * sin)
    assert torch.equal(layer.inv_freq, DPRoPEInvFreq(64, 256)(16, 10000.0))


def test_decoder_switches_frequencies_and_matches_tinylm():
    sizes = {"d_model": 32, "n_layers": 1, "n_heads": 2, "vocab_size": 50, "max_seq_len": 64}
    torch.manual_seed(0)
    model = DPRoPEDecoder(train_len=8, target_len=32, **sizes)
    ids = torch.randint(50, (2, 24))
    ref = TinyLMDecoder(**sizes)
    ref.load_state_dict(model.state_dict())
    assert torch.equal(model(ids).logits, ref(ids).logits)  # training mode: the default frequencies
    model.eval()
    ext = TinyLMDecoder(**sizes, rope_inv_freq=DPRoPEInvFreq(8, 32))
    ext.load_state_dict(model.state_dict())
    assert torch.equal(model(ids).logits, ext(ids).logits)  # evaluation: the DPRoPE frequencies
    model.train()
    assert torch.equal(model.rotary.inv_freq, default_inv_freq(16, 10000.0))


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="train_len"):
        DPRoPEInvFreq(64, 32)
    with pytest.raises(ValueError, match="strategy"):
        DPRoPEInvFreq(64, 128, strategy="ntk")
