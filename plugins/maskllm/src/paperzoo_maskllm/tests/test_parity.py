"""Parity with the official MaskLLM code (NVlabs/MaskLLM, ``learnable_sparsity/differentiable_mask.py``):
golden tensors of its ``DifferentiableMask`` (candidate masks, logit initialisation, magnitude prior,
Gumbel-softmax soft masks at three points of the temperature / scale schedules, the logits' gradient,
the argmax mask), recorded by running that code on CPU (``data/official_golden.json`` says how). Both
draw the Gumbel noise through ``torch.nn.functional.gumbel_softmax`` from the same seeds, so the
comparison is bitwise (float32)."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from paperzoo_compress.sparsity import nm_mask

from paperzoo_maskllm.layer import LearnableNMMaskLinear, candidate_masks

ITERS = 10


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    with resources.as_file(resources.files("paperzoo_maskllm.tests") / "data" / "official_golden.pt") as p:
        return torch.load(p, weights_only=True)


def layer_like_official(golden: dict[str, torch.Tensor], **kw) -> LearnableNMMaskLinear:
    base = torch.nn.Linear(16, 8, bias=False)
    with torch.no_grad():
        base.weight.copy_(golden["weight"])
    torch.manual_seed(1)  # the seed the official mask was built under
    return LearnableNMMaskLinear(base, n=2, m=4, temperature=[4.0, 0.05], scale=[1e2, 5e2], **kw)


def test_candidates_are_the_official_mask_options(golden):
    assert torch.equal(candidate_masks(2, 4), golden["mask_options"][0])
    assert torch.equal(candidate_masks(1, 4), golden["mask_options_1_4"][0])


def test_initialisation_and_prior_match_the_official_logits(golden, record_property):
    plain = layer_like_official(golden, prior="none")
    assert torch.equal(plain.gate, golden["gate_init"])
    assert torch.equal(nm_mask(golden["weight"], 2, 4).float(), golden["prior_mask"])
    primed = layer_like_official(golden, prior="magnitude", prior_strength=3.0)
    err = float((primed.gate.detach() - golden["gate_prior"]).abs().max())
    record_property("max_abs_diff_prior_logits_float32", err)
    assert err == 0.0


def test_sampled_masks_gradients_and_argmax_match_the_official_code(golden, record_property):
    layer = layer_like_official(golden, prior="magnitude", prior_strength=3.0).train()
    worst = 0.0
    for it, seed in ((0, 2), (3, 3), (9, 4)):
        layer.set_progress(it / ITERS)
        assert layer.current_temperature == pytest.approx(float(golden[f"temperature_it{it}"]), abs=1e-12)
        assert layer.current_scale == pytest.approx(float(golden[f"scale_it{it}"]), abs=1e-9)
        torch.manual_seed(seed)
        mask = layer.mask().detach()
        worst = max(worst, float((mask - golden[f"soft_mask_it{it}"]).abs().max()))
    layer.set_progress(3 / ITERS)
    torch.manual_seed(5)
    (layer.mask() * golden["weight"].square()).sum().backward()
    grad_err = float((layer.gate.grad - golden["gate_grad_it3"]).abs().max())
    record_property("max_abs_diff_soft_masks_float32", worst)
    record_property("max_abs_diff_logit_grad_float32", grad_err)
    assert worst == 0.0 and grad_err == 0.0
    layer.eval()
    assert torch.equal(layer.mask(), golden["eval_mask"])
