"""``int_training``: the supervised loop on the model's integer-training form (ShiftQuant linears,
L1 norms), so a config trains any Linear/LayerNorm model the way the paper does."""

from __future__ import annotations

from typing import Any

from paperzoo.trainer import Run, Supervised

from paperzoo_shiftquant.convert import convert
from paperzoo_shiftquant.linear import check_quant_params


class IntTraining(Supervised):
    """Supervised training with sub-8-bit ShiftQuant linears and L1 norms (simulated in float).

    :param bits: bit width of weights, activations and gradients.
    :param num_groups: power-of-two groups of ShiftQuant.
    :param grad_quant: ``shiftquant`` (the method), ``per_tensor`` (naive baseline) or ``none``.
    :param grad_rounding: ``stochastic`` (the method) or ``nearest``.
    :param quantize_forward: fake-quantise weights and activations in the forward pass.
    :param l1_norm: replace LayerNorm modules with L1Norm.
    The remaining params are the supervised loop's (``epochs``, ``batch_size``, ...).
    """

    def __init__(
        self,
        bits: int = 4,
        num_groups: int = 8,
        grad_quant: str = "shiftquant",
        grad_rounding: str = "stochastic",
        quantize_forward: bool = True,
        l1_norm: bool = True,
        **loop: Any,
    ):
        check_quant_params(bits, num_groups, grad_quant, grad_rounding)
        super().__init__(**loop)
        self.quant = {
            "bits": bits,
            "num_groups": num_groups,
            "grad_quant": grad_quant,
            "grad_rounding": grad_rounding,
            "quantize_forward": quantize_forward,
        }
        self.l1_norm = l1_norm

    def setup(self, run: Run) -> None:
        convert(run.model, l1_norm=self.l1_norm, **self.quant)
        super().setup(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        summary["int_training"] = {**self.quant, "l1_norm": self.l1_norm}
        return summary
