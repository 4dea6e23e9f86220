"""``ln_removal_finetune``: language-model fine-tuning during which the LayerNorms are removed one at a
time (every MLP norm, then every attention norm, then the final norm), each frozen into
``x -> (x - mean) / sigma_avg * gamma + beta`` with ``sigma_avg`` its input's moving-average standard
deviation; training continues between removals, so the model adapts to each.

A trainer, not a layer: the schedule acts on the model's norms between optimizer steps.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_ln_removal.fake_ln import apply, calibrate, check_removable, install, removed, schedule


class _Remover:
    """Loop callback: carries out the events due before each optimizer step."""

    def __init__(self, events) -> None:
        self.events = list(events)

    def on_train_start(self, trainer: Supervised) -> None:
        self.due(trainer, trainer.state.step)

    def on_step_end(self, trainer: Supervised, loss: float) -> None:
        self.due(trainer, trainer.state.step)

    def due(self, trainer: Supervised, step: int) -> None:
        while self.events and self.events[0].step <= step:
            event = self.events.pop(0)
            apply(trainer.run.model, event)
            trainer.log({"step": step, "removed": event.name})


class LNRemovalFinetune(Supervised):
    """The supervised loop with the LN-removal schedule.

    :param start: optimizer steps before the first removal.
    :param gap: optimizer steps between consecutive removals (the reference uses 2 or 3 on GPT-2).
    :param momentum: EMA weight of the previous ``sigma_avg`` (the reference's default is 0.9).
    :param calibrate_batches: training batches observed (no update) to initialise ``sigma_avg``.
    :param bos_special: give position 0 its own ``sigma_avg`` until a last ``bos`` event.
    Other params: those of the supervised loop; ``max_steps`` must leave at least one step after the
    last removal.
    """

    def __init__(
        self,
        start: int = 10,
        gap: int = 2,
        momentum: float = 0.9,
        calibrate_batches: int = 4,
        bos_special: bool = False,
        **loop: Any,
    ) -> None:
        for name, value, low in (
            ("start", start, 0),
            ("gap", gap, 1),
            ("calibrate_batches", calibrate_batches, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
        if not isinstance(momentum, (int, float)) or not 0.0 <= momentum < 1.0:
            raise ParamError("momentum", f"{momentum!r}; accepted: a number in [0, 1)")
        super().__init__(**loop)
        self.start, self.gap, self.momentum = start, gap, float(momentum)
        self.calibrate_batches, self.bos_special = calibrate_batches, bool(bos_special)

    def check_model(self, model: torch.nn.Module) -> None:
        """Refuse, before anything is written, a model whose norms the schedule cannot remove (the
        engine reports the ``ValueError`` at ``model``)."""
        check_removable(model)

    def fit(self, run: Run) -> dict[str, Any]:
        self.check_model(run.model)
        model = run.model
        install(model, self.momentum, self.bos_special)  # before setup: a resumed checkpoint holds them
        self.setup(run)
        self.events = schedule(
            len(model.blocks), hasattr(model, "final_norm"), self.start, self.gap, self.bos_special
        )
        total = self.total_steps(run)
        if self.events[-1].step >= total:
            raise ParamError(
                "max_steps",
                f"{total} steps end before the last removal at step {self.events[-1].step}; accepted: more "
                f"steps, or a smaller start/gap",
            )
        if self.state.step == 0:  # a resumed run restored its averages with the checkpoint
            n = min(len(run.data.train), self.calibrate_batches * self.batch_size)
            ids = torch.stack([run.data.train[i][0] for i in range(n)]).to(self.device)
            calibrate(model, ids.split(self.batch_size))
        self.callbacks.append(_Remover(self.events))
        self.train(run)
        if not removed(model):
            raise RuntimeError("the schedule ended with a norm still in place")
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            "removals": [{"step": e.step, "norm": e.name} for e in self.events],
            "all_removed": removed(run.model),
        }
