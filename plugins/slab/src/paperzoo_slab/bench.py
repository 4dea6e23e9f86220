"""SLAB's layers against the layers they replace, forward+backward on CPU or GPU.

PRepBN (training mode, mid-decay so both branches run; eval mode, RepBN only) against nn.LayerNorm on
(B, T, C) = (32, 256, 256); and simplified linear attention (causal and bidirectional, 1-D depthwise
conv) against softmax attention (``scaled_dot_product_attention``) on [B, H, T, Dh] = (4, 4, T, 64) for
T in 256 and 1024. Prints median time and peak memory of one pass and the ratios ours/baseline
(``paperzoo.bench.compare``).

Run: ``registry bench slab [--rounds 20] [--threads 2]`` (or ``python -m paperzoo_slab.bench``).
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import backward_pass, compare, compare_header
from paperzoo_tinylm.attention import AttentionMask
from torch import nn

from paperzoo_slab.prepbn import PRepBN
from paperzoo_slab.sla import SimplifiedLinearAttention


class Softmax(nn.Module):
    """Softmax attention over a packed ``[3, B, H, T, Dh]`` input."""

    def __init__(self, causal: bool):
        super().__init__()
        self.causal = causal

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_causal=self.causal)


class Linear(nn.Module):
    """SLA over a packed ``[3, B, H, T, Dh]`` input."""

    def __init__(self, head_dim: int, causal: bool):
        super().__init__()
        self.kernel, self.mask = SimplifiedLinearAttention(head_dim), AttentionMask(causal=causal)

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        return self.kernel(qkv[0], qkv[1], qkv[2], self.mask)


def bench_norms(device: torch.device, rounds: int) -> None:
    x = torch.randn(32, 256, 256, device=device, requires_grad=True)
    grad = torch.randn_like(x)
    for training in (True, False):
        prep = PRepBN(nn.LayerNorm(256), total_steps=10**6).to(device)
        prep.remaining.fill_(5 * 10**5)  # gamma 0.5: both branches
        works = {
            "LayerNorm": partial(backward_pass, nn.LayerNorm(256).to(device).train(training), x, grad),
            "PRepBN": partial(backward_pass, prep.train(training), x, grad),
        }
        compare(
            works,
            "LayerNorm",
            device,
            rounds,
            label=f"{'(32,256,256)':>16} {'train' if training else 'eval':>5}",
        )


def bench_attention(device: torch.device, rounds: int) -> None:
    for t in (256, 1024):
        x = torch.randn(3, 4, 4, t, 64, device=device, requires_grad=True)
        grad = torch.randn(4, 4, t, 64, device=device)
        for causal in (False, True):
            works = {
                "softmax": partial(backward_pass, Softmax(causal).to(device), x, grad),
                "SLA": partial(backward_pass, Linear(64, causal).to(device), x, grad),
            }
            label = f"{f'T={t}':>16} {'causal' if causal else 'bidir':>5}"
            compare(works, "softmax", device, rounds, label=label)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` and print times, peak memory and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(
        f"device={device}, threads={torch.get_num_threads()}; one forward+backward pass, ratios ours/baseline"
    )
    print(compare_header(f"{'shape':>16} {'mode':>5}", "layer"))
    bench_norms(device, args.rounds)
    bench_attention(device, args.rounds)


if __name__ == "__main__":
    main()
