"""The ``order_search_loss`` trainer: the supervised loop with the output-set loss of section 5."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo_pointer_networks.model import pointer_loss
from paperzoo_pointer_networks.training import PointerNetTraining

from paperzoo_order_matters.order_search import (
    all_orderings,
    best_ordering,
    sampled_orderings,
    uniform_orderings,
)


class OrderSearchTraining(PointerNetTraining):
    """Train a pointer network on the highest-probability ordering of each target among candidates.

    :param samples: orderings sampled from the model per example at each step (restricted to the
        target's elements).
    :param uniform: orderings drawn uniformly per example at each step.
    :param keep_target: also consider the target's own ordering (as given by the data).
    :param uniform_steps: the first optimizer steps train on one uniformly drawn ordering per example
        (the paper's pretraining with a uniform prior over orderings), without search.
    :param exhaustive: consider every ordering (all targets of a batch must have the same number of
        elements; ``L!`` candidates: for small ``L`` only). Overrides ``samples``/``uniform``.
    Other params: those of the supervised loop. With ``samples=0, uniform=0, keep_target=true`` (one
    candidate) this is exactly ``pointer_net_training``.
    """

    def __init__(
        self,
        samples: int = 4,
        uniform: int = 0,
        keep_target: bool = True,
        uniform_steps: int = 0,
        exhaustive: bool = False,
        **loop: Any,
    ) -> None:
        for name, value in (("samples", samples), ("uniform", uniform), ("uniform_steps", uniform_steps)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ParamError(name, f"{value!r}; accepted: an integer >= 0")
        if not exhaustive and samples + uniform + int(bool(keep_target)) == 0:
            raise ParamError(
                "samples", "no candidate ordering; accepted: samples, uniform or keep_target > 0"
            )
        super().__init__(**loop)
        self.samples, self.uniform, self.keep_target = samples, uniform, bool(keep_target)
        self.uniform_steps, self.exhaustive = uniform_steps, bool(exhaustive)

    def candidates(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(K, B, T) candidate orderings of the targets ``y`` at the current step."""
        stop = x.shape[1] if model.eos else -1
        if self.exhaustive:
            return all_orderings(y, stop)
        if self.state.step < self.uniform_steps:
            return uniform_orderings(y, 1, stop)
        parts = [y.unsqueeze(0)] if self.keep_target else []
        if self.samples:
            parts.append(sampled_orderings(model, x, y, self.samples))
        if self.uniform:
            parts.append(uniform_orderings(y, self.uniform, stop))
        return torch.cat(parts)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        net = getattr(model, "module", model)  # the search uses the model's methods, not its forward
        chosen, _ = best_ordering(net, x, self.candidates(net, x, y))
        return pointer_loss(model(x, targets=chosen), chosen)
