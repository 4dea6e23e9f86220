"""``mixed_precision_ptq``: train with the supervised loop, rank the quantisable layers by augmented
sensitivity (Hutchinson Hessian + inter-layer dependency), then bisect how many of the top-ranked layers
stay at ``high_bits`` (the rest go to ``low_bits``) so that the calibration metric degrades by at most
``tolerance`` (relative). The weights are replaced in place by their fake-quantised values."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_hessian_interlayer_mpq.search import bisect_min_k
from paperzoo_hessian_interlayer_mpq.sensitivity import (
    Batch,
    accuracy,
    layer_sensitivity,
    mean_loss,
    quant_layers,
    quantize_weight,
    quantized,
)


def check_mpq_args(low_bits: int, high_bits: int, n_samples: int, dependency: str) -> None:
    """Parameter checks shared by the trainer and the evaluator."""
    check_int("low_bits", low_bits, 2)
    check_int("high_bits", high_bits, 2)
    if low_bits > 16 or high_bits > 16 or low_bits >= high_bits:
        raise ParamError(
            "low_bits",
            f"{low_bits!r} with high_bits {high_bits!r}; accepted: 2 <= low_bits < high_bits <= 16",
        )
    check_int("n_samples", n_samples, 1)
    check_choice("dependency", dependency, ("pairwise", "context", "none"))


def calibration_batches(dataset: Any, n: int, batch_size: int, device: torch.device) -> list[Batch]:
    """The first ``n * batch_size`` examples of ``dataset`` as ``n`` batches on ``device``."""
    size = min(len(dataset), n * batch_size)
    idx = torch.arange(size)
    return [tuple(t.to(device) for t in fetch(dataset, chunk)) for chunk in idx.split(batch_size)]


class MixedPrecisionPTQ(Supervised):
    """Supervised training, then sensitivity-ranked mixed-precision weight quantisation.

    :param low_bits: bit width of the layers not kept high.
    :param high_bits: bit width of the kept layers (16: left in float).
    :param tolerance: allowed relative degradation of the calibration metric (accuracy must stay
        ``>= (1 - tolerance) * float accuracy``; loss ``<= (1 + tolerance) * float loss``).
    :param metric: ``accuracy`` (classification), ``loss``, or ``auto`` (accuracy when classifying).
    :param ranking: ``augmented`` (the paper's) or ``hessian`` (the Hessian-only baseline).
    :param dependency: ``pairwise`` (every pair quantised jointly), ``context`` (each layer against all
        the others quantised) or ``none``.
    :param dependency_weight: weight of the dependency term in the augmented score.
    :param n_samples: Hutchinson probes.
    :param calib_batches: training batches (of ``batch_size``) used for calibration.
    :param exclude: module names never quantised (e.g. the classifier head).
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        low_bits: int = 4,
        high_bits: int = 8,
        tolerance: float = 0.01,
        metric: str = "auto",
        ranking: str = "augmented",
        dependency: str = "pairwise",
        dependency_weight: float = 1.0,
        n_samples: int = 16,
        calib_batches: int = 2,
        exclude: list[str] | tuple[str, ...] = (),
        **loop: Any,
    ) -> None:
        check_mpq_args(low_bits, high_bits, n_samples, dependency)
        check_float("tolerance", tolerance, 0.0)
        check_choice("metric", metric, ("auto", "accuracy", "loss"))
        check_choice("ranking", ranking, ("augmented", "hessian"))
        check_float("dependency_weight", dependency_weight, 0.0)
        check_int("calib_batches", calib_batches, 1)
        if not isinstance(exclude, (list, tuple)) or not all(isinstance(e, str) for e in exclude):
            raise ParamError("exclude", f"{exclude!r}; accepted: a list of module names")
        super().__init__(**loop)
        self.low_bits, self.high_bits, self.tolerance = low_bits, high_bits, float(tolerance)
        self.metric, self.ranking, self.dependency = metric, ranking, dependency
        self.dependency_weight, self.n_samples = float(dependency_weight), n_samples
        self.calib_batches, self.exclude = calib_batches, list(exclude)
        self.quantized = False
        self.report: dict[str, Any] = {}

    def extra_state(self) -> dict[str, Any]:
        return {"quantized": self.quantized, "report": self.report}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.quantized = bool(state.get("quantized", False))
        self.report = dict(state.get("report", {}))

    def quantize(self, model: torch.nn.Module, calib: list[Batch], task: str) -> dict[str, Any]:
        """Rank, bisect and quantise ``model`` in place; return what to report."""
        metric = self.metric
        if metric == "auto":
            metric = "accuracy" if task == "classification" else "loss"
        if metric == "accuracy" and task != "classification":
            raise ParamError("metric", f"'accuracy' on a {task} task; accepted: 'loss' or 'auto'")
        sens = layer_sensitivity(
            model, calib, task, self.low_bits, self.n_samples, self.exclude, self.dependency
        )
        order = sens.ranking(self.ranking, self.dependency_weight)
        layers = quant_layers(model, self.exclude)

        def score() -> float:
            return accuracy(model, calib) if metric == "accuracy" else mean_loss(model, calib, task)

        ref = score()

        def bits_for(k: int) -> dict[str, int]:
            return {n: (self.high_bits if i < k else self.low_bits) for i, n in enumerate(order)}

        def ok(k: int) -> bool:
            with quantized(layers, bits_for(k)):
                value = score()
            if metric == "accuracy":
                return value >= (1.0 - self.tolerance) * ref
            return value <= (1.0 + self.tolerance) * ref

        k, met, tried = bisect_min_k(ok, len(order))
        bits = bits_for(k)
        with torch.no_grad():
            for n, b in bits.items():
                layers[n].weight.copy_(quantize_weight(layers[n].weight, b))
        numel = {n: layers[n].weight.numel() for n in order}
        avg = sum(bits[n] * numel[n] for n in order) / max(sum(numel.values()), 1)
        return {
            "ranking": order,
            "bits": bits,
            "high_precision_layers": k,
            "tolerance_met": met,
            "bisection_evaluations": len(tried),
            "avg_weight_bits": avg,
            "metric": metric,
        }

    def fit(self, run: Run) -> dict[str, Any]:
        self.setup(run)
        if not self.quantized:
            self.train(run)
            model = run.model.eval()
            calib = calibration_batches(run.data.train, self.calib_batches, self.batch_size, self.device)
            val = calibration_batches(run.data.val, self.calib_batches, self.batch_size, self.device)
            loss_float = mean_loss(model, val, run.data.task)
            extra = self.quantize(model, calib, run.data.task)
            self.quantized = True
            self.report = {
                "val_loss_float": loss_float,
                "val_loss_quantized": mean_loss(model, val, run.data.task),
            }
            self.report.update(extra)
            self.save_checkpoint(run)
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "low_bits": self.low_bits,
            "high_bits": self.high_bits,
            **self.report,
        }
