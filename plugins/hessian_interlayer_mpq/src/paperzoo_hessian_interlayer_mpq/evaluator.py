"""``layer_sensitivity``: the Hessian and inter-layer dependency sensitivities of a model's layers."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle

from paperzoo_hessian_interlayer_mpq.ptq import calibration_batches, check_mpq_args
from paperzoo_hessian_interlayer_mpq.sensitivity import layer_sensitivity


def kendall_tau(a: list[str], b: list[str]) -> float:
    """Kendall's tau between two orderings of the same names (1: identical, -1: reversed)."""
    pos = {n: i for i, n in enumerate(b)}
    n = len(a)
    if n < 2:
        return 1.0
    s = sum(1 if pos[a[i]] < pos[a[j]] else -1 for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


class LayerSensitivity:
    """Hutchinson Hessian traces and inter-layer dependency terms on the first ``batches`` training
    batches; reports totals, the number of layers, and Kendall's tau between the Hessian-only and the
    augmented rankings (1: the dependency term changes nothing)."""

    keys = ("n_layers", "trace_total", "hessian_total", "dependency_total", "rank_agreement")

    def __init__(
        self,
        low_bits: int = 4,
        n_samples: int = 16,
        batches: int = 1,
        batch_size: int = 128,
        dependency: str = "pairwise",
        dependency_weight: float = 1.0,
    ) -> None:
        check_mpq_args(low_bits, 16, n_samples, dependency)
        self.low_bits, self.n_samples, self.dependency = low_bits, n_samples, dependency
        self.batches, self.batch_size, self.dependency_weight = batches, batch_size, float(dependency_weight)

    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        device = next(model.parameters()).device
        calib = calibration_batches(data.train, self.batches, self.batch_size, device)
        was_training = model.training
        model.eval()
        try:
            s = layer_sensitivity(model, calib, data.task, self.low_bits, self.n_samples, (), self.dependency)
        finally:
            model.train(was_training)
        return {
            "n_layers": float(len(s.names)),
            "trace_total": float(sum(s.trace)),
            "hessian_total": float(sum(s.hessian)),
            "dependency_total": float(sum(s.dependency)),
            "rank_agreement": kendall_tau(
                s.ranking("hessian"), s.ranking("augmented", self.dependency_weight)
            ),
        }
