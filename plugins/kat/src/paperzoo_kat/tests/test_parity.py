"""Parity with the official pure-PyTorch path of rational_kat_cu (``Rational_CUDA_A_1DGroup``, commit
181bae8), through golden tensors recorded by running it outside this repository (``data/*.json`` names
the commit and the script). ``kat_rational`` has no release on PyPI, so nothing is installed.

That path computes ``Q(x) = 1 + sum_i |b_i| x^i`` (absolute value on the coefficients only), while the
official CUDA and Triton kernels compute ``1 + sum_i |b_i| |x|^i`` (our ``denominator="abs_terms"``).
The two agree for ``x >= 0``, which is where we compare; for ``x < 0`` we check that the golden values
are indeed the coefficient-only form (so the mismatch is that path's, not ours).
"""

from __future__ import annotations

from importlib import resources

import pytest
import torch

from paperzoo_kat.rational import GELU_DENOMINATOR, GELU_NUMERATOR, GroupRational, rational


@pytest.fixture(scope="module")
def golden() -> dict[str, torch.Tensor]:
    path = resources.files("paperzoo_kat.tests") / "data" / "kat_group_torch_golden.pt"
    with resources.as_file(path) as file:
        return torch.load(file, weights_only=True)


def _coefficient_abs_only(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The reference path's formula, written out with explicit powers (no Horner)."""
    g = a.shape[0]
    z = x.reshape(*x.shape[:-1], g, x.shape[-1] // g)
    p = sum(a[:, i : i + 1] * z**i for i in range(a.shape[1]))
    q = 1 + sum(b[:, i : i + 1].abs() * z ** (i + 1) for i in range(b.shape[1]))
    return (p / q).reshape(x.shape)


def test_official_gelu_coefficients(golden):
    """The module as shipped: one numerator for all groups, the GELU fit of init.json."""
    assert torch.equal(golden["gelu_num"], torch.tensor([GELU_NUMERATOR]))
    assert torch.equal(golden["gelu_den"], torch.tensor([GELU_DENOMINATOR] * 8))


def test_forward_parity_float64(golden, record_property):
    x, y = golden["rand_x"], golden["rand_y"]
    ours = rational(x, golden["rand_num"], golden["rand_den"], "abs_terms")
    pos = x >= 0
    err = (ours - y)[pos].abs().max().item()
    record_property("max_abs_diff_float64_x_ge_0", err)
    assert err < 1e-12
    # x < 0: the golden values follow the coefficient-only formula (the reference's own deviation)
    theirs = _coefficient_abs_only(x, golden["rand_num"], golden["rand_den"])
    assert torch.allclose(theirs, y, rtol=0, atol=1e-12)
    record_property("kernel_vs_torch_path_max_diff_x_lt_0", (ours - y)[~pos].abs().max().item())


def test_module_parity_float32(golden, record_property):
    """``GroupRational(share_numerator=True, denominator="abs_terms")`` against ``KAT_Group_Torch``:
    outputs and input gradients (upstream ones) where ``x >= 0``. Tolerance 1e-6: float32, Horner's
    rule against the reference's explicit powers (measured 3.6e-7)."""
    layer = GroupRational(32, num_groups=8, denominator="abs_terms", share_numerator=True)
    x = golden["gelu_x"].clone().requires_grad_(True)
    y = layer(x)
    y.backward(torch.ones_like(y))
    pos = golden["gelu_x"] >= 0
    err = (y.detach() - golden["gelu_y"])[pos].abs().max().item()
    gerr = (x.grad - golden["gelu_grad_x"])[pos].abs().max().item()
    record_property("max_abs_diff_float32_x_ge_0", err)
    assert err < 1e-6
    assert gerr < 1e-6
