"""Speed and peak memory of ``learnable_nm_mask_linear`` against the plain ``nn.Linear`` it wraps and the
fixed-mask kit ``MaskedLinear`` (magnitude 2:4).

Prints the median time of one training step (forward + backward: the mask logits' gradient for ours,
the weight's for the baselines) over ``--rounds`` interleaved rounds (one pass of each layer per round,
so that a change of machine load affects all alike), its peak memory (``paperzoo.bench.peak_memory``),
and both as ratios to ``nn.Linear``.

Run: ``registry bench maskllm [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from paperzoo_compress.bench import linear_benchmark
from paperzoo_compress.sparsity import MaskedLinear, nm_mask
from torch import nn

from paperzoo_maskllm.layer import LearnableNMMaskLinear


def magnitude_2_4(linear: nn.Linear) -> MaskedLinear:
    """The fixed magnitude 2:4 baseline."""
    return MaskedLinear(linear, nm_mask(linear.weight, 2, 4))


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {
        "MaskedLinear 2:4": magnitude_2_4,
        "ours": lambda linear: LearnableNMMaskLinear(linear, n=2, m=4),
    }
    linear_benchmark(__doc__.splitlines()[0], layers, argv, train=True)


if __name__ == "__main__":
    main()
