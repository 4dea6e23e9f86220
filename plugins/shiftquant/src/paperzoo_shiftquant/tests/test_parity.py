"""Parity. No official code of the paper has been released (searched: no repository of the authors),
so ShiftQuant is checked against two independent references: the scales against a pure-Python search
over ``math.frexp`` exponents, written from the paper's definition, and the quantisation grid against
PyTorch's own quantiser (``torch.fake_quantize_per_channel_affine``) given those scales; the per-tensor
baseline against ``torch.fake_quantize_per_tensor_affine``."""

from __future__ import annotations

import math

import torch

from paperzoo_shiftquant.quant import per_tensor_quantize, shift_scales, shiftquant


def reference_exponents(x: torch.Tensor, bits: int, num_groups: int) -> list[int]:
    """Per column: the smallest e with max|x[:, c]| <= q 2**e, clamped to the top num_groups exponents."""
    q = 2 ** (bits - 1) - 1

    def cover(m: float) -> int:
        _, e = math.frexp(m / q)  # m / q = f 2**e with 0.5 <= f < 1, so 2**(e-1) < m/q < 2**e ...
        return e - 1 if math.ldexp(q, e - 1) >= m else e  # ... unless m/q is a power of two

    columns = [max(abs(v) for v in col) for col in x.T.tolist()]
    top = cover(max(columns))
    return [min(top, max(top - num_groups + 1, cover(m) if m > 0 else top - num_groups + 1)) for m in columns]


def data(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(128, 48, generator=g) * torch.logspace(0, -10, 48, base=2)
    x[:, 7] = 0.0  # an empty channel
    x[0, 3] = 7 * 2.0**-3  # a channel maximum exactly on a power-of-two boundary
    return x


def test_scales_match_the_reference_search(record_property):
    mismatches = 0
    for seed in range(3):
        x = data(seed)
        for bits, groups in [(4, 4), (4, 8), (6, 16), (8, 2)]:
            ours = torch.frexp(shift_scales(x, bits, groups).flatten())[1] - 1  # exact exponents
            mismatches += sum(a != b for a, b in zip(ours.tolist(), reference_exponents(x, bits, groups)))
    record_property("scale_exponent_mismatches", mismatches)
    assert mismatches == 0


def test_grid_matches_torch_fake_quantize_per_channel(record_property):
    worst = 0.0
    for seed in range(3):
        x = data(seed)
        for bits, groups in [(4, 8), (6, 16), (8, 2)]:
            q = 2 ** (bits - 1) - 1
            s = shift_scales(x, bits, groups).flatten()
            zero = torch.zeros(s.numel(), dtype=torch.int32)
            theirs = torch.fake_quantize_per_channel_affine(x, s, zero, 1, -q, q)
            worst = max(worst, (shiftquant(x, bits, groups) - theirs).abs().max().item())
    record_property("max_abs_diff_vs_torch_per_channel", worst)
    assert worst == 0.0  # power-of-two scales: dividing and multiplying by them is exact


def test_per_tensor_baseline_matches_torch_fake_quantize_per_tensor(record_property):
    worst = 0.0
    for seed in range(3):
        x = data(seed)
        s = (x.abs().max() / 7).item()
        theirs = torch.fake_quantize_per_tensor_affine(x, s, 0, -7, 7)
        worst = max(worst, (per_tensor_quantize(x, 4) - theirs).abs().max().item())
    record_property("max_abs_diff_vs_torch_per_tensor", worst)
    # torch multiplies by a float32 1/scale where we divide by the scale: at most a few ulps of the step
    assert worst <= 1e-6
