"""Speed and peak memory of a training step of ``NMSparseLinear`` (1:8, MDGF at beta 0.5, and SR-STE)
against the dense ``nn.Linear`` it replaces.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds (one pass of
each layer per round, so that a change of machine load affects all alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to ``nn.Linear``. The sparse layer recomputes the
magnitude mask (a sort of every group) each forward and multiplies by a dense mask: it simulates N:M
sparsity, it does not use sparse kernels, so it is slower than dense by construction.

Run: ``registry bench nm_progressive_flow [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

from paperzoo_compress.bench import linear_benchmark

from paperzoo_nm_progressive_flow.layer import NMSparseLinear


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {
        "mdgf 1:8": partial(NMSparseLinear, n=1, m=8, beta=0.5),
        "srste 1:8": partial(NMSparseLinear, n=1, m=8, srste_lambda=2e-4),
    }
    linear_benchmark(__doc__.splitlines()[0], layers, argv, train=True)


if __name__ == "__main__":
    main()
