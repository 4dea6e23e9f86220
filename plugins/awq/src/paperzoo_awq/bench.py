"""AWQ's scaled W4 layer (``fake_quant_linear_wint``) and the kit's round-to-nearest W4 layer against the
float ``nn.Linear``: one inference forward pass per round.

Run: ``registry bench awq [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

from paperzoo_compress.bench import linear_benchmark
from paperzoo_compress.linear import FakeQuantLinear

from paperzoo_awq.layer import FakeQuantLinearWInt


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {
        "rtn_w4": partial(FakeQuantLinear, bits=4, group_size=128),
        "awq_w4": partial(FakeQuantLinearWInt, bits=4, group_size=128),
    }
    linear_benchmark(__doc__.splitlines()[0], layers, argv)


if __name__ == "__main__":
    main()
