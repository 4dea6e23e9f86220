"""``mixture_of_denoisers``: the supervised loop with UL2's Mixture-of-Denoisers objective. Each batch's
input ids (the ``x`` of a language-modelling dataset) are transformed row by row
(:class:`~paperzoo_ul2_mod.denoisers.MixtureOfDenoisers`, one denoiser drawn per row) and the model is
trained on the result: an encoder-decoder on (inputs, targets), any other model as a decoder on their
concatenation with the loss on the targets (:mod:`paperzoo_ul2_mod.training`)."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_ul2_mod.denoisers import PAPER_DENOISERS, Denoiser, MixtureOfDenoisers
from paperzoo_ul2_mod.training import mod_loss


def build_denoisers(specs: list[dict[str, Any]] | None) -> tuple[Denoiser, ...]:
    """Denoisers from config dicts ``{kind, mode, rate, mean_span_length}`` (``None``: the paper's)."""
    if specs is None:
        return PAPER_DENOISERS
    if not isinstance(specs, list) or not specs:
        raise ParamError("denoisers", f"{specs!r}; accepted: a non-empty list of denoiser mappings")
    out = []
    for i, spec in enumerate(specs):
        try:
            out.append(Denoiser(**spec))
        except (TypeError, ValueError) as err:
            raise ParamError(
                f"denoisers.{i}", f"{err} (fields: kind, mode, rate, mean_span_length)"
            ) from None
    return tuple(out)


class MixtureOfDenoisersTrainer(Supervised):
    """The supervised loop trained with the Mixture-of-Denoisers objective.

    :param denoisers: list of ``{kind: span|prefix, mode: "[R]"|"[X]"|"[S]", rate, mean_span_length}``
        (default: the paper's seven denoisers).
    :param rates: mixing rates, one per denoiser (default: uniform).
    :param eos: append ``EOS`` to inputs and targets.
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        denoisers: list[dict[str, Any]] | None = None,
        rates: list[float] | None = None,
        eos: bool = True,
        **loop: Any,
    ) -> None:
        built = build_denoisers(denoisers)
        try:
            self.transform = MixtureOfDenoisers(built, None if rates is None else tuple(rates), bool(eos))
        except (TypeError, ValueError) as err:
            raise ParamError("rates", f"{err}") from None
        super().__init__(**loop)

    def fit(self, run: Run) -> dict[str, Any]:
        self.generator = torch.Generator().manual_seed(run.seed)
        return super().fit(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x = batch[0]
        return mod_loss(model, x, self.transform, self.generator)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "denoisers": [
                f"{d.mode} r={d.rate}" + (f" mu={d.mean_span_length}" if d.kind == "span" else " prefix")
                for d in self.transform.denoisers
            ],
            "mixing_rates": [round(float(p), 6) for p in self.transform.probabilities],
        }
