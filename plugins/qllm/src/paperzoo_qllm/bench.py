"""QLLM's reassembled W4A4 layer (input reassembly, per-token 4-bit activations, 4-bit per-channel
weights) and the kit's round-to-nearest W4A4 layer against the float ``nn.Linear``: one inference forward
pass per round. The reassembly splits five outlier channels into three sub-channels each and merges ten
pairs of channels back.

Run: ``registry bench qllm [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

import torch
from paperzoo_compress.act import ActQuantLinear, fake_quantize_activations
from paperzoo_compress.bench import linear_benchmark
from paperzoo_compress.linear import FakeQuantLinear
from torch import nn

from paperzoo_qllm.reassembly import Plan


def _plan(c: int) -> Plan:
    counts = torch.ones(c)
    outliers = torch.arange(5) * (c // 5) + 2  # five channels split into three sub-channels each
    counts[outliers] = 3.0
    r = int(counts.sum()) - c
    g = torch.Generator().manual_seed(0)
    whole = torch.repeat_interleave(counts == 1, counts.long())
    src = torch.nonzero(whole[::2]).flatten()[torch.randperm(int(whole[::2].sum()), generator=g)[:r]]
    dst = torch.nonzero(whole[1::2]).flatten()[torch.randint(int(whole[1::2].sum()), (r,), generator=g)]
    return Plan(counts, src, dst, 1.0)


class ReassembledW4A4(nn.Module):
    """``Q_w(W') Q_a(R(x))``: the layer QLLM deploys (``W'`` the reassembled weight)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.plan = _plan(linear.in_features)
        with torch.no_grad():
            linear.weight.copy_(self.plan.apply_weight(linear.weight))
        self.linear = FakeQuantLinear(linear, 4, -1, False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(fake_quantize_activations(self.plan.apply_x(x), 4, "token"))


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {
        "rtn_w4a4": lambda linear: ActQuantLinear(FakeQuantLinear(linear, 4, -1, False), 4),
        "qllm_w4a4": ReassembledW4A4,
    }
    linear_benchmark(__doc__.splitlines()[0], layers, argv)


if __name__ == "__main__":
    main()
