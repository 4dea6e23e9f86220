"""Speed and peak memory of a LoRA-Rounding Linear during reconstruction (soft rounding, forward and
backward into the low-rank matrices) against the plain ``nn.Linear`` it replaces (forward and backward).

After CBQ the model holds plain ``nn.Linear`` modules with weights on the grid: inference costs what the
float model costs (ratio 1 by construction); the reconstruction step is what this measures. Prints the
median time over ``--rounds`` interleaved rounds, peak memory (``paperzoo.bench.peak_memory``) and both
as ratios to ``nn.Linear``.

Run: ``registry bench cbq [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

from paperzoo_compress.bench import linear_benchmark

from paperzoo_cbq.rounding import LoRARoundingLinear


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {"lora_round": partial(LoRARoundingLinear, bits=4, group_size=128, rank=4)}
    linear_benchmark(__doc__.splitlines()[0], layers, argv, train=True)


if __name__ == "__main__":
    main()
