"""Parity with independent computations (the official BrotherHappy/OSTQuant repository could not be
obtained for golden outputs): KL-Top at ``k = V`` against ``torch.nn.functional.kl_div``; QSUR against a
Monte-Carlo estimate of the volume ratio; the trainer's in-place W4A4 against the kit's
``quantize_model_wa``."""

import copy
import math

import torch
from paperzoo_compress.act import quantize_model_wa
from paperzoo_compress.ptq import rtn_quantize_

from paperzoo_ostquant.loss import kl_top
from paperzoo_ostquant.qsur import log_qsur, qsur, sample_log_qsur
from paperzoo_ostquant.tests.helpers import tiny_decoder
from paperzoo_ostquant.trainer import add_act_quant_hooks


def test_kl_top_full_vocabulary_equals_torch_kl_div(record_property):
    g = torch.Generator().manual_seed(0)
    student = torch.randn(3, 5, 40, generator=g, dtype=torch.float64)
    teacher = 2 * torch.randn(3, 5, 40, generator=g, dtype=torch.float64)
    ref = (
        torch.nn.functional.kl_div(
            torch.log_softmax(student, -1), torch.log_softmax(teacher, -1), reduction="none", log_target=True
        )
        .sum(-1)
        .mean()
    )
    err = abs(float(kl_top(student, teacher, 40) - ref))
    record_property("kl_top_vs_kl_div_max_abs_diff", err)
    assert err < 1e-14
    assert float(kl_top(student, teacher, 5)) != float(ref)  # truncation changes it


def test_qsur_matches_monte_carlo_volume_ratio(record_property):
    mean = torch.tensor([0.5, -0.2, 0.1], dtype=torch.float64)
    a = torch.tensor([[1.0, 0.3, 0.0], [0.0, 0.5, 0.2], [0.1, 0.0, 2.0]], dtype=torch.float64)
    cov = a @ a.T
    r = 1.5
    sigma = torch.diagonal(cov).sqrt()
    lo, hi = float((mean - r * sigma).min()), float((mean + r * sigma).max())
    n = 400_000
    u = lo + (hi - lo) * torch.rand(n, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d = u - mean
    inside = ((d @ torch.linalg.inv(cov)) * d).sum(-1) <= r * r
    mc = float(inside.double().mean())
    exact = qsur(mean, cov, radius=r)
    record_property("qsur_closed_form", exact)
    record_property("qsur_monte_carlo", mc)
    assert abs(mc - exact) < 5 * math.sqrt(exact * (1 - exact) / n)  # 5 standard errors


def test_sample_qsur_converges_to_the_gaussian_closed_form():
    g = torch.Generator().manual_seed(1)
    scale = torch.tensor([1.0, 1.0, 1.0, 10.0], dtype=torch.float64)
    x = torch.randn(200_000, 4, generator=g, dtype=torch.float64) * scale
    exact = log_qsur(torch.zeros(4, dtype=torch.float64), torch.diag(scale**2))
    assert abs(sample_log_qsur(x) - exact) < 0.05


def test_trainer_quantisation_equals_the_kits_w4a4():
    model = tiny_decoder(2, dtype=torch.float32)
    ids = torch.randint(0, 50, (2, 10), generator=torch.Generator().manual_seed(0))
    kit = quantize_model_wa(model, 4, 4, inplace=False)
    ours = copy.deepcopy(model)
    rtn_quantize_(ours, 4, -1)
    add_act_quant_hooks(ours, 4)
    assert torch.equal(ours(ids).logits, kit(ids).logits)
