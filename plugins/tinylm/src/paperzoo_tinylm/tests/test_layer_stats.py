"""``layer_stats`` and the ``tinylm_layer_stats`` evaluator against statistics computed independently from
``output_hidden_states`` and an ordinary ``loss.backward()``."""

from __future__ import annotations

import math

import paperzoo
import pytest
import torch
import torch.nn.functional as F

from paperzoo_tinylm.layer_stats import LayerStatsEvaluator, layer_stats
from paperzoo_tinylm.model import TinyLMDecoder


def _model(placement: str = "pre", **kw) -> TinyLMDecoder:
    torch.manual_seed(0)
    sizes = dict(d_model=16, n_layers=3, n_heads=2, vocab_size=64, max_seq_len=16, final_norm=False)
    return TinyLMDecoder(norm_placement=placement, **{**sizes, **kw}).double()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(64, (3, 10), generator=torch.Generator().manual_seed(1))
    targets = torch.roll(ids, -1, 1)
    targets[:, -1] = -100
    return ids, targets


@pytest.mark.parametrize("placement", ["pre", "peri", "post"])
def test_matches_hidden_states_and_backward(placement):
    model, (ids, targets) = _model(placement), _batch()  # no final norm: hidden_states end at resid_post
    stats = layer_stats(model, ids, targets)

    out = model(ids, output_hidden_states=True)
    hidden = out.hidden_states
    loss = F.cross_entropy(out.logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    d_hidden = torch.autograd.grad(loss, hidden, retain_graph=True)
    loss.backward()
    grad_norm = [
        math.sqrt(
            sum(
                float(p.grad.pow(2).sum())
                for k, p in model.named_parameters()
                if k.startswith(f"blocks.{i}.")
            )
        )
        for i in range(3)
    ]
    cos = [F.cosine_similarity(hidden[i].detach(), hidden[i + 1].detach(), dim=-1) for i in range(3)]
    expected = {
        "resid_rms": [float(h.detach().pow(2).mean().sqrt()) for h in hidden],
        "resid_var": [float(h.detach().var(-1, unbiased=False).mean()) for h in hidden],
        "resid_grad_rms": [float(g.pow(2).mean().sqrt()) for g in d_hidden],
        "grad_norm": grad_norm,
        "angle": [float(torch.rad2deg(torch.arccos(c.clamp(-1, 1))).mean()) for c in cos],
    }
    for key, values in expected.items():
        assert getattr(stats, key) == pytest.approx(values, rel=1e-9, abs=1e-12), key
    assert stats.resid_rms[1] > 0 and len(stats.nonzero_fraction) == 3


def test_nonzero_fraction():
    ids, targets = _batch()
    dense = layer_stats(_model(ffn="mlp", activation="identity"), ids, targets)
    assert dense.nonzero_fraction == [1.0, 1.0, 1.0]
    model = _model(ffn="mlp", activation="relu")
    model.get_parameter("blocks.1.mlp.up_proj.weight").data.zero_()
    relu = layer_stats(model, ids, targets)
    assert relu.nonzero_fraction[1] == 0.0
    assert 0.3 < relu.nonzero_fraction[0] < 0.7  # ReLU of a random projection: about half are positive
    assert layer_stats(model, ids, targets, zero_tol=1e9).nonzero_fraction == [0.0, 0.0, 0.0]


def test_angle_is_zero_when_the_block_adds_nothing():
    model = _model()
    for name, p in model.named_parameters():
        if name.endswith(("attn.o_proj.weight", "mlp.down_proj.weight")):
            p.data.zero_()
    stats = layer_stats(model, *_batch())
    assert stats.angle == pytest.approx([0.0, 0.0, 0.0], abs=1e-5)
    assert stats.resid_rms == pytest.approx([stats.resid_rms[0]] * 4, rel=1e-12)


def test_leaves_the_model_untouched():
    model = _model(dropout=0.1).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = layer_stats(model, *_batch())
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert layer_stats(model, *_batch()) == first  # dropout is off during the pass: deterministic


def test_refuses_a_model_without_hook_names():
    with pytest.raises(ValueError, match="hook names"):
        layer_stats(torch.nn.Linear(4, 4), torch.zeros(1, 4, dtype=torch.long))


def test_evaluator_summarises_per_layer():
    data = paperzoo.create("tinylm_stdlib", seq_len=16, max_bytes=4000)
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=16, n_layers=3, n_heads=2, max_seq_len=32, norm_placement="peri")
    evaluator = LayerStatsEvaluator(batch_size=4, n_batches=2)
    per_layer, summary = evaluator.per_layer(model, data), evaluator(model, data)
    assert set(summary) == set(evaluator.keys)
    assert summary["resid_rms_last"] == per_layer.resid_rms[3]
    assert summary["resid_rms_growth"] == pytest.approx(per_layer.resid_rms[3] / per_layer.resid_rms[1])
    assert summary["grad_norm_first"] == per_layer.grad_norm[0]
    x, y = data.val[0:4]
    one = layer_stats(model, x, y)
    x2, y2 = data.val[4:8]
    two = layer_stats(model, x2, y2)
    assert per_layer.resid_rms == pytest.approx([(a + b) / 2 for a, b in zip(one.resid_rms, two.resid_rms)])
    with pytest.raises(ValueError, match="split"):
        LayerStatsEvaluator(split="test")
