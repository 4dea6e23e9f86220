"""``clm_span_infill_mix``: the supervised loop trained with CodeGen2's causal-LM / causal-infilling
mixture (:class:`~paperzoo_codegen2_objective.infill.CLMInfillMix`) on the ``x`` of a language-modelling
dataset, for a decoder-only model."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_codegen2_objective.infill import CLMInfillMix, mix_loss


class CLMSpanInfillMixTrainer(Supervised):
    """The supervised loop with the CLM / span-infill mixture.

    :param p_clm: probability that a row is trained as plain causal LM (else causal infilling).
    :param noise_density: share of the tokens of an infilling row that are masked (T5's 0.15).
    :param mean_noise_span_length: mean masked span length (T5's 3).
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        p_clm: float = 0.5,
        noise_density: float = 0.15,
        mean_noise_span_length: float = 3.0,
        **loop: Any,
    ) -> None:
        for name, value in (
            ("p_clm", p_clm),
            ("noise_density", noise_density),
            ("mean_noise_span_length", mean_noise_span_length),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(name, f"{value!r}; accepted: a number")
        try:
            self.transform = CLMInfillMix(float(p_clm), float(noise_density), float(mean_noise_span_length))
        except ValueError as err:
            name = str(err).split(" ", 1)[0]
            raise ParamError(name, f"{err}") from None
        super().__init__(**loop)

    def fit(self, run: Run) -> dict[str, Any]:
        self.generator = torch.Generator().manual_seed(run.seed)
        return super().fit(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        return mix_loss(model, batch[0], self.transform, self.generator)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        t = self.transform
        return {
            **super().summarize(run, metrics),
            "objective": f"p_clm={t.p_clm} infill r={t.noise_density} mu={t.mean_noise_span_length}",
        }
