"""PST's training layer against the ``nn.Linear`` it replaces: one forward and backward pass per round
(PST's cost is in sparse training: the importance, its top-k mask and the low-rank products each step).

Run: ``registry bench pst_sparse [--threads 1] [--rounds 20] [--features 512] [--tokens 1024]``.
"""

from __future__ import annotations

from functools import partial

from paperzoo_compress.bench import linear_benchmark

from paperzoo_pst_sparse.layer import PSTLinear


def make(linear, **kw) -> PSTLinear:
    layer = PSTLinear(linear, **kw)
    layer.sparsity = 0.9
    return layer


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    linear_benchmark(
        __doc__.splitlines()[0],
        {"pst_r8_s0.9": partial(make, weight_rank=8, mask_rank=8)},
        argv,
        train=True,
    )


if __name__ == "__main__":
    main()
