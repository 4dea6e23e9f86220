"""Parity with golden tensors recorded from the official code (xinghaochen/SLAB, see data/golden.json):
``LinearNorm(LayerNorm, RepBN)`` (the official PRepBN) through warm-up, decay and eval, and the official
DeiT ``Attention`` (simplified linear attention with a 5x5 depthwise conv on V). The official attention
computes in float32, so the recorded outputs are float32: tolerance 1e-5 (float32 rounding of sums over
196 tokens); PRepBN is compared at 1e-6."""

from __future__ import annotations

from importlib import resources

import torch
from safetensors.torch import load_file
from torch import nn

from paperzoo_slab.prepbn import PRepBN
from paperzoo_slab.sla import SimplifiedLinearAttention


def golden() -> dict[str, torch.Tensor]:
    return load_file(str(resources.files("paperzoo_slab.tests") / "data" / "golden.safetensors"))


def test_prepbn_matches_official_linear_norm(record_property):
    g = golden()
    ln = nn.LayerNorm(6, eps=1e-6)
    m = PRepBN(ln, total_steps=5, warmup=2)
    with torch.no_grad():
        ln.weight.copy_(g["prepbn.ln.weight"])
        ln.bias.copy_(g["prepbn.ln.bias"])
        m.repbn.bn.weight.copy_(g["prepbn.bn.weight"])
        m.repbn.bn.bias.copy_(g["prepbn.bn.bias"])
        m.repbn.eta.copy_(g["prepbn.eta"])
        m.train()
        ys = torch.stack([m(x) for x in g["prepbn.x_train"]])
        m.eval()
        ye = m(g["prepbn.x_eval"])
    err = max((ys - g["prepbn.y_train"]).abs().max().item(), (ye - g["prepbn.y_eval"]).abs().max().item())
    record_property("prepbn_max_abs_diff_float32", err)
    assert err < 1e-6


def test_sla_matches_official_attention(record_property):
    g = golden()
    x = g["sla.x"]
    b, n, c = x.shape
    h = 2
    kernel = SimplifiedLinearAttention(c // h, kernel_size=5, conv="2d")
    with torch.no_grad():
        kernel.dwc.weight.copy_(g["sla.dwc.weight"])
        kernel.dwc.bias.copy_(g["sla.dwc.bias"])
        q, k, v = (x @ g["sla.qkv.weight"].T).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        z = kernel(q, k, v)
        y = z.transpose(1, 2).reshape(b, n, c) @ g["sla.proj.weight"].T + g["sla.proj.bias"]
    err = (y - g["sla.y"]).abs().max().item()
    record_property("sla_max_abs_diff_float32", err)
    assert err < 1e-5
