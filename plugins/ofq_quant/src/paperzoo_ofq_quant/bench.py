"""StatsQ and LSQ 2-bit weight-quantised Linears against the float ``nn.Linear`` they replace: one
training forward+backward pass per round (quantisation-aware training is where these layers run).

Run: ``registry bench ofq_quant [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from paperzoo_compress.bench import linear_benchmark
from torch import nn

from paperzoo_ofq_quant.quant import quantize_linears


def _quantized(quantizer: str, bits: int = 2):
    def build(linear: nn.Linear) -> nn.Module:
        wrapper = nn.Sequential(linear)
        quantize_linears(wrapper, bits, quantizer)
        return wrapper

    return build


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    layers = {"statsq_2bit": _quantized("statsq"), "lsq_2bit": _quantized("lsq")}
    linear_benchmark(__doc__.splitlines()[0], layers, argv, train=True)


if __name__ == "__main__":
    main()
