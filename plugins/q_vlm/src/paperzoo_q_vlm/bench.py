"""Speed and peak memory of a Q-VLM W4A4 Linear at inference (weights fake-quantised on the grid with a
searched clip ratio, inputs fake-quantised per token with a clip ratio by a forward pre-hook) against the
plain ``nn.Linear`` it replaces.

Fake quantisation simulates the integer kernels (it runs in float): the ratio shows the simulation's
overhead, which is the per-token activation quantiser; the weights cost nothing extra once quantised.
The search itself is a calibration-time cost (forward passes of the model). Prints the median time over
``--rounds`` interleaved rounds, peak memory and both as ratios to ``nn.Linear``.

Run: ``registry bench q_vlm [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

import torch
from paperzoo_compress.bench import linear_benchmark
from paperzoo_compress.quant import fake_quantize
from torch import nn

from paperzoo_q_vlm.qvlm import attach_act_quant


def qvlm_linear(
    linear: nn.Linear, bits: int = 4, a_bits: int = 4, w_ratio: float = 0.9, a_ratio: float = 0.9
) -> nn.Linear:
    """``linear`` with its weight quantised in place and its input quantisation attached."""
    with torch.no_grad():
        linear.weight.copy_(fake_quantize(linear.weight, bits, -1, clip_ratio=w_ratio))
    attach_act_quant({"layer": linear}, {"layer": (w_ratio, a_ratio)}, a_bits)
    return linear


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    linear_benchmark(__doc__.splitlines()[0], {"qvlm_w4a4": qvlm_linear}, argv)


if __name__ == "__main__":
    main()
