"""``gradual_magnitude_pruning``: the supervised loop with sparse pre-training (Jin et al., 2025).

Before the forward pass of step ``k`` the pruner updates the masks when ``k`` is an update step of the
schedule (cubic between 25% and 75% of the steps by default) and records the kept weight count ``N_k``;
after each optimizer step the masks are multiplied into the weights again. The run reports
``n_avg = (1/T) sum_k N_k`` (the paper's average parameter count ``Nbar``), ``n_final``, ``n_dense``
and the final density; ``param_counts.json`` in the run directory holds every ``N_k``.
"""

from __future__ import annotations

import json
from typing import Any

from paperzoo import rundir
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from .pruner import GradualMagnitudePruner, Scope
from .schedule import KINDS, Kind, SparsitySchedule


class _Hooks:
    """Loop callback: mask update and count before the step's forward pass, masks re-applied after."""

    def on_train_start(self, trainer: GradualMagnitudePruning) -> None:
        trainer.record(trainer.state.step)

    def on_step_end(self, trainer: GradualMagnitudePruning, loss: float) -> None:
        trainer.pruner.reapply()
        if trainer.state.step < trainer.schedule.total_steps:
            trainer.record(trainer.state.step)


class GradualMagnitudePruning(Supervised):
    """Sparse pre-training by gradual magnitude pruning of every Linear (those named in ``exclude``
    stay dense), on the cubic schedule of Zhu & Gupta between ``start_fraction`` and ``end_fraction`` of
    the run, masks re-applied after every step.

    :param final_sparsity: ``s_f`` in [0, 1): fraction of the pruned weights zero at the end (0: dense).
    :param start_fraction: where pruning starts, as a fraction of the steps (paper: 0.25).
    :param end_fraction: where it reaches ``s_f`` (paper: 0.75).
    :param prune_every: steps between mask updates (1: every step).
    :param schedule: ``cubic`` (the paper) or ``geometric`` (the released code's schedule).
    :param scope: ``global`` (one magnitude threshold over all pruned Linears, the released code) or
        ``layerwise``.
    :param exclude: substrings of module names that are not pruned.
    :param loop: the ``supervised`` loop's params (``max_steps`` or ``epochs``, ``batch_size``, ...).
    """

    def __init__(
        self,
        final_sparsity: float = 0.5,
        start_fraction: float = 0.25,
        end_fraction: float = 0.75,
        prune_every: int = 1,
        schedule: Kind = "cubic",
        scope: Scope = "global",
        exclude: list[str] | None = None,
        **loop: Any,
    ) -> None:
        super().__init__(**loop)
        check_float("final_sparsity", final_sparsity, 0.0)
        if not final_sparsity < 1.0:
            raise ParamError("final_sparsity", f"{final_sparsity!r}; accepted: a number >= 0 and < 1")
        check_float("start_fraction", start_fraction, 0.0, 1.0)
        check_float("end_fraction", end_fraction, 0.0, 1.0)
        if not start_fraction < end_fraction:
            raise ParamError(
                "end_fraction",
                f"{end_fraction!r}; accepted: a number above start_fraction ({start_fraction})",
            )
        check_int("prune_every", prune_every, 1)
        check_choice("schedule", schedule, KINDS)
        check_choice("scope", scope, ("global", "layerwise"))
        self.final_sparsity, self.start_fraction, self.end_fraction = (
            final_sparsity,
            start_fraction,
            end_fraction,
        )
        self.prune_every, self.schedule_kind, self.scope = prune_every, schedule, scope
        self.exclude = list(exclude or [])
        self.callbacks.append(_Hooks())
        self.counts: list[int] = []

    def fit(self, run: Run) -> dict[str, Any]:
        self.schedule = SparsitySchedule(
            self.final_sparsity,
            self.total_steps(run),
            self.start_fraction,
            self.end_fraction,
            self.prune_every,
            self.schedule_kind,
        )
        # masks are buffers of the model: swap the Linears before a checkpoint is restored into it
        self.pruner = GradualMagnitudePruner(run.model, self.schedule, self.scope, self.exclude)
        self.counts = []
        return super().fit(run)

    def record(self, step: int) -> None:
        """Update the masks for ``step`` if due and record the count its forward pass uses."""
        if len(self.counts) == step:
            self.counts.append(self.pruner.before_step(step))

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        summary = super().summarize(run, metrics)
        summary.update(
            {
                "final_sparsity": self.final_sparsity,
                "schedule": self.schedule_kind,
                "n_dense": self.pruner.total,
                "n_final": self.pruner.nonzero(),
                "n_avg": sum(self.counts) / max(len(self.counts), 1),
                "density": self.pruner.density(),
            }
        )
        return summary

    def finish(self, run: Run) -> dict[str, Any]:
        summary = super().finish(run)
        if self.is_main and run.run_dir is not None:
            rundir.write_text(run.run_dir / "param_counts.json", json.dumps(self.counts) + "\n")
        return summary

    def extra_state(self) -> dict[str, Any]:
        return {"counts": list(self.counts)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.counts = [int(c) for c in state.get("counts", [])]
