"""Exact properties of the frozen LayerNorm, the schedule, the trainer and the DLA evaluator."""

from __future__ import annotations

import pytest
import torch
from paperzoo.errors import ParamError
from torch import nn

from paperzoo_ln_removal.dla import LNRemovalDLA, component_names, dla, readout
from paperzoo_ln_removal.fake_ln import (
    FakeLayerNorm,
    calibrate,
    install,
    remove_all,
    removed,
    schedule,
    stages,
)
from paperzoo_ln_removal.tests.helpers import data, decoder, fit, removal


def _ids(seed: int = 0, b: int = 3, t: int = 16) -> torch.Tensor:
    return torch.randint(256, (b, t), generator=torch.Generator().manual_seed(seed))


def test_install_changes_nothing_bitwise():
    model = decoder().double()
    ids = _ids()
    before = model(ids).logits
    install(model)
    assert torch.equal(model(ids).logits, before)
    assert len(stages(model)) == 2 * 2 + 1


def test_frozen_map_is_layernorm_where_every_token_has_sigma():
    ln = nn.LayerNorm(8, eps=1e-5, dtype=torch.float64)
    nn.init.normal_(ln.weight), nn.init.normal_(ln.bias)
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    c = x - x.mean(-1, keepdim=True)
    x = 3.0 * c / c.pow(2).mean(-1, keepdim=True).sqrt() + 0.7  # every token: std 3 (biased)
    fake = FakeLayerNorm(ln)
    fake.train()
    fake(x)
    fake.remove()
    assert float(fake.sigma) == pytest.approx((9.0 + 1e-5) ** 0.5, rel=1e-12)
    assert (fake(x) - ln(x)).abs().max() < 1e-12


def test_frozen_map_is_affine():
    fake = FakeLayerNorm(nn.LayerNorm(8, dtype=torch.float64))
    nn.init.normal_(fake.weight), nn.init.normal_(fake.bias)
    fake.observe(torch.randn(4, 6, 8, dtype=torch.float64))
    fake.remove()
    a, b = torch.randn(2, 2, 6, 8, dtype=torch.float64)
    zero = fake(torch.zeros_like(a))
    assert (fake(a + 2 * b) - (fake(a) + 2 * fake(b) - 2 * zero)).abs().max() < 1e-12
    assert (zero - fake.bias).abs().max() == 0


def test_bos_special_then_dropped():
    fake = FakeLayerNorm(nn.LayerNorm(4, elementwise_affine=True, dtype=torch.float64), bos_special=True)
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    x[:, 0] *= 10.0
    fake.observe(x)
    fake.remove()
    std = (x.var(-1, unbiased=False) + fake.eps).sqrt()
    assert float(fake.sigma_bos) == pytest.approx(float(std[:, 0].mean()), rel=1e-12)
    assert float(fake.sigma) == pytest.approx(float(std[:, 1:].mean()), rel=1e-12)
    y = fake(x)
    assert torch.allclose(y[:, 0], (x[:, 0] - x[:, 0].mean(-1, keepdim=True)) / fake.sigma_bos, atol=1e-12)
    fake.drop_bos_special()
    y = fake(x)
    assert torch.allclose(y[:, 0], (x[:, 0] - x[:, 0].mean(-1, keepdim=True)) / fake.sigma, atol=1e-12)


def test_schedule_order_and_spacing():
    events = schedule(3, True, start=5, gap=2, bos_special=True)
    names = [e.name for e in events]
    assert names == [
        "blocks.0.ffn_norm", "blocks.1.ffn_norm", "blocks.2.ffn_norm",
        "blocks.0.attn_norm", "blocks.1.attn_norm", "blocks.2.attn_norm",
        "final_norm", "bos",
    ]  # fmt: skip
    assert [e.step for e in events] == list(range(5, 21, 2))


def test_dla_sums_exactly_after_removal_and_not_with_layernorm():
    model = decoder().double()
    ids = _ids(1)
    install(model)
    calibrate(model, [ids])
    terms, bias, logits = dla(model, ids)
    assert list(terms) == component_names(2)
    with_ln = (logits - bias - sum(terms.values())).abs().max() / logits.abs().max()
    remove_all(model)
    terms, bias, logits = dla(model, ids)
    err = (logits - bias - sum(terms.values())).abs().max()
    assert err < 1e-12
    assert with_ln > 0.1
    zero = readout(model, torch.zeros(1, 1, 32, dtype=torch.float64))
    assert (bias - zero).abs().max() == 0


def test_trainer_removes_in_order_and_evaluator_reports(tmp_path):
    bundle = data(seq_len=16, max_bytes=20_000)
    model = decoder(d_model=16, n_layers=2)
    trainer = removal(12, batch_size=8, start=1, gap=2, calibrate_batches=1)
    summary = fit(trainer, model, bundle, tmp_path, lr=1e-3)
    assert summary["all_removed"] and removed(model)
    assert [r["norm"] for r in summary["removals"]][:3] == [
        "blocks.0.ffn_norm",
        "blocks.1.ffn_norm",
        "blocks.0.attn_norm",
    ]
    sigmas = [float(n.sigma) for _, n in stages(model)]
    assert all(s > 0 for s in sigmas) and len(set(sigmas)) == len(sigmas)
    evaluator = LNRemovalDLA(batch_size=8)
    out, parts = evaluator(model, bundle), evaluator.per_component(model, bundle)
    assert out["sum_error"] < 1e-5  # float32 rounding of 5 summed [B, T, V] terms
    assert set(component_names(2)) <= set(parts)
    assert out["mlp"] == pytest.approx(parts["mlp.0"] + parts["mlp.1"], rel=1e-12)


def test_trainer_rejects_a_schedule_longer_than_the_run(tmp_path):
    with pytest.raises(ParamError, match="max_steps"):
        fit(removal(4, batch_size=8, start=2, gap=2), decoder(d_model=16), data(16, 20_000), tmp_path, 1e-3)


def test_trainer_rejects_rms_norm_and_post_norm(tmp_path):
    for kw in ({"norm": "rms_norm"}, {"norm_placement": "post"}):
        torch.manual_seed(0)
        from paperzoo_tinylm.model import TinyLMDecoder

        model = TinyLMDecoder(
            d_model=16, n_layers=1, n_heads=2, max_seq_len=32, **{"norm": "layer_norm", **kw}
        )
        with pytest.raises(ValueError):
            removal(20, batch_size=8).check_model(model)  # what the engine calls before writing anything
        with pytest.raises(ValueError):
            fit(removal(20, batch_size=8), model, data(16, 20_000), tmp_path, 1e-3)
