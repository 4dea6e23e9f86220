"""``confidence_guided_annealing``: quantisation-aware training with StatsQ weights, then CGA for the
last part of the run; the oscillation counter runs on every quantised weight throughout."""

from __future__ import annotations

import math
from typing import Any

from paperzoo.checks import check_float
from paperzoo.trainer import Run, Supervised

from paperzoo_ofq_quant.cga import CGA
from paperzoo_ofq_quant.oscillation import OscillationTracker
from paperzoo_ofq_quant.quant import check_bits, quant_linears, quantize_linears


class _Hooks:
    """The trainer's loop callbacks (CGA around the optimizer step, oscillation counting after it)."""

    def __init__(self, owner: ConfidenceGuidedAnnealing):
        self.owner = owner

    def after_backward(self, trainer: Supervised) -> None:
        o = self.owner
        if trainer.state.step >= o.cga_first_step:
            o.cga.after_backward()

    def on_step_end(self, trainer: Supervised, loss: float) -> None:
        o = self.owner
        o.cga.after_step()
        if trainer.state.step == o.cga_first_step < o.total:  # count oscillations within the CGA phase only
            for t in o.trackers.values():
                t.reset_counts()
        for name, m in o.modules.items():
            o.trackers[name].update(m.weight_int())


class ConfidenceGuidedAnnealing(Supervised):
    """Supervised QAT with every Linear (except ``skip``) StatsQ-quantised to ``bits``; from step
    ``ceil(cga_start * total_steps)`` on, only weights within ``boundary_range`` of a rounding boundary
    train (CGA). Anneal the learning rate with the configured schedule (the paper: cosine to zero).

    :param bits: weight bit width.
    :param cga_start: fraction of the run after which CGA starts (1.0: plain StatsQ QAT).
    :param boundary_range: half-width of the trainable band around each rounding boundary.
    :param skip: names of Linear modules kept in float (e.g. the classifier head).
    The remaining params are the supervised loop's (``epochs``, ``batch_size``, ...).
    """

    def __init__(
        self,
        bits: int = 2,
        cga_start: float = 0.5,
        boundary_range: float = 0.005,
        skip: list[str] | tuple[str, ...] = (),
        **loop: Any,
    ):
        check_bits(bits)
        check_float("cga_start", cga_start, 0.0, 1.0)
        check_float("boundary_range", boundary_range, 0.0, 0.5)
        super().__init__(**loop)
        self.bits, self.cga_start, self.boundary_range, self.skip = (
            bits,
            cga_start,
            boundary_range,
            tuple(skip),
        )

    def setup(self, run: Run) -> None:
        quantize_linears(run.model, self.bits, "statsq", self.skip)
        super().setup(run)
        self.modules = quant_linears(run.model)
        self.cga = CGA(self.modules, self.bits, self.boundary_range)
        self.trackers = {name: OscillationTracker() for name in self.modules}
        self.total = self.total_steps(run)
        self.cga_first_step = math.ceil(self.cga_start * self.total)
        self.callbacks.append(_Hooks(self))

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        counted = [t for t in self.trackers.values() if t.steps]
        events = sum(float(t.total.sum()) for t in counted)
        weight_steps = sum(t.total.numel() * t.steps for t in counted)
        summary["ofq"] = {
            "bits": self.bits,
            "cga_first_step": self.cga_first_step,
            "cga_frozen_fraction": self.cga.frozen_fraction,
            "oscillation_frequency": events / max(weight_steps, 1),
        }
        return summary
