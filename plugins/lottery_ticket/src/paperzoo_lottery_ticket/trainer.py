"""Iterative magnitude pruning with rewinding (Frankle & Carbin, 2019; Frankle et al., 2020).

The procedure of Section 2 of the paper, "identifying winning tickets":

1. randomly initialise ``f(x; theta_0)`` (the model as built);
2. train for ``T`` steps, reaching ``theta_T``; with rewinding (arXiv:1912.05671) remember
   ``theta_k``, the weights after ``k = rewind_step`` steps (``k = 0`` is the original paper);
3. prune ``p%`` of the surviving weights of ``theta_T`` of smallest magnitude, giving a mask ``m``;
4. reset the survivors to ``theta_k``: the network becomes ``f(x; m ⊙ theta_k)``, and training resumes
   from step ``k`` (data order and learning-rate schedule continue from there, with a fresh optimizer);
5. repeat 2-4 for ``rounds`` rounds. After ``r`` rounds a layer pruned at rate ``p`` keeps
   ``(1 - p)^r`` of its weights.

During training the mask holds: ``g <- m ⊙ g`` after every backward pass and ``theta <- m ⊙ theta``
after every optimizer step, so pruned weights stay exactly zero. The control of Section 3
(``control="random_reinit"``) trains, in every round, the same mask on a fresh random initialisation
``m ⊙ theta'_0`` before the ticket itself, and reports both.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import torch
from paperzoo.trainer import LoopState, Run, Supervised

from .masks import Prunable, apply_masks, density, magnitude_prune, pools, prunable_weights


class MaskEnforcer:
    """Loop callback keeping pruned weights at zero: ``g <- m ⊙ g`` before the optimizer step,
    ``theta <- m ⊙ theta`` after it (weight decay or a stale momentum could otherwise move them)."""

    def after_backward(self, trainer: IterativeMagnitudePruning) -> None:
        apply_masks([p.grad for p in trainer.pruned_params], trainer.mask_values)

    def on_step_end(self, trainer: IterativeMagnitudePruning, loss: float) -> None:
        apply_masks(trainer.pruned_params, trainer.mask_values)
        trainer.maybe_capture_rewind_point()


class IterativeMagnitudePruning(Supervised):
    """Find a lottery ticket by iterative magnitude pruning, rewinding survivors each round.

    Round 0 trains the dense network; rounds ``1..rounds`` each prune and retrain. The model left at
    the end is the trained ticket of the last round; its masks are written to ``masks.safetensors``
    and ``summary.json`` lists density and evaluator metrics per round.

    :param rounds: pruning rounds after the dense training run.
    :param rate: fraction of the surviving Linear weights pruned per round (paper: 0.2).
    :param output_rate: the same for the output layer (paper: half the rate, 0.1 for LeNet).
    :param conv_rate: the same for convolutions (paper, Conv-2/4/6: 0.1); default ``rate``.
    :param rewind_step: k: survivors reset to their values after k dense steps, training resumes at k (0: theta_0).
    :param control: ``random_reinit``: also train each round's mask from a fresh random initialisation.
    :param strategy: ``layerwise`` (paper: LeNet, Conv-2/4/6) or ``global`` (paper: VGG-19, ResNet-18).
    :param output_layer: module name of the output layer (default: the last Linear/Conv module).
    :param loop: the ``supervised`` loop's params, applied to every round (``epochs`` or ``max_steps``
        per round, ``batch_size``, ``checkpoint_every`` within a round, ...).
    """

    def __init__(
        self,
        rounds: int = 3,
        rate: float = 0.2,
        output_rate: float = 0.1,
        conv_rate: float | None = None,
        rewind_step: int = 0,
        control: Literal["none", "random_reinit"] = "none",
        strategy: Literal["layerwise", "global"] = "layerwise",
        output_layer: str | None = None,
        **loop: Any,
    ):
        super().__init__(**loop)
        for name, value in (("rate", rate), ("output_rate", output_rate), ("conv_rate", conv_rate)):
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if rounds < 0 or rewind_step < 0:
            raise ValueError("rounds and rewind_step must be >= 0")
        if control not in ("none", "random_reinit"):
            raise ValueError(f"control must be 'none' or 'random_reinit', got {control!r}")
        if strategy not in ("layerwise", "global"):
            raise ValueError(f"strategy must be 'layerwise' or 'global', got {strategy!r}")
        self.rounds, self.rate, self.output_rate, self.conv_rate = rounds, rate, output_rate, conv_rate
        self.rewind_step, self.control = rewind_step, control
        self.strategy, self.output_layer = strategy, output_layer
        self.callbacks.append(MaskEnforcer())
        self.stage = 0
        self.stage_started = False
        self.mask_values: list[torch.Tensor] = []
        self.pruned_params: list[torch.nn.Parameter] = []
        self.rewind_state: dict[str, torch.Tensor] | None = None
        self.records: list[dict[str, Any]] = []
        self._loaded: dict[str, Any] | None = None
        self._seconds = 0.0
        self._writing_stage_end = False

    # -- the schedule of training runs -------------------------------------------------------------
    def stages(self) -> list[tuple[int, str]]:
        """``(round, phase)`` of every training run: the dense run, then per round the control (if
        any) and the ticket. The control trains first so the ticket's weights are the ones pruned next."""
        out = [(0, "ticket")]
        for r in range(1, self.rounds + 1):
            out += [(r, "control")] if self.control == "random_reinit" else []
            out.append((r, "ticket"))
        return out

    def fit(self, run: Run) -> dict[str, Any]:
        if run.make_optimizer is None:
            raise ValueError("iterative magnitude pruning needs an optimizer (a fresh one per round)")
        self._loaded = None
        self.setup(run)  # restores a checkpoint (weights, loop state, extra state) when resuming
        self.prunable: list[Prunable] = prunable_weights(run.model, self.output_layer)
        self.pruned_params = [p.param for p in self.prunable]
        self.groups, self.group_rates = pools(
            [p.kind for p in self.prunable], self.strategy, self.rate, self.output_rate, self.conv_rate
        )
        if self.rewind_step >= self.total_steps(run):
            raise ValueError(
                f"rewind_step ({self.rewind_step}) must be below the steps per round "
                f"({self.total_steps(run)})"
            )
        if self._loaded is not None:
            self._unpack(self._loaded)
        else:
            self.stage, self.stage_started, self.records, self._seconds = 0, False, [], 0.0
            self.set_masks([torch.ones_like(p, dtype=torch.bool) for p in self.pruned_params])
            self.rewind_state = _snapshot(run.model) if self.rewind_step == 0 else None

        stages = self.stages()
        while self.stage < len(stages):
            rnd, phase = stages[self.stage]
            if not self.stage_started:
                self.begin_stage(run, rnd, phase)
            self.train(run)
            self._seconds += self.train_seconds
            metrics = self.evaluate(run)
            record = {
                "round": rnd,
                "phase": phase,
                "density": density(self.masks),
                "steps": self.state.step,
                **metrics,
            }
            self.records.append(record)
            self.log(
                {
                    "step": self.state.step,
                    "epoch": self.state.epoch,
                    "round_end": True,
                    **metrics,
                    "density": record["density"],
                }
            )
            self.stage, self.stage_started = self.stage + 1, False
            self._writing_stage_end = True
            try:
                self.save_checkpoint(run)
            finally:
                self._writing_stage_end = False
        return self.finish(run)

    def begin_stage(self, run: Run, rnd: int, phase: str) -> None:
        """Prepare one training run: prune (first run of a round), reset the weights, build a fresh
        optimizer and place the loop at the start step (0 for the dense run, ``k`` afterwards)."""
        model = run.model
        if rnd > 0:
            first_of_round = self.stages().index(
                (rnd, "control" if self.control == "random_reinit" else "ticket")
            )
            if self.stage == first_of_round:
                # step 3: prune p% of the surviving weights of theta_T by magnitude
                self.set_masks(magnitude_prune(self.pruned_params, self.masks, self.groups, self.group_rates))
            if self.rewind_state is None:
                raise RuntimeError("no rewind point was recorded in the dense run")
            # step 4: theta <- m ⊙ theta_k (every parameter and buffer back to step k, pruned ones to 0)
            model.load_state_dict(self.rewind_state)
            if phase == "control":
                self._random_reinit(model, seed=run.seed + 7919 * (rnd + 1))
            apply_masks(self.pruned_params, self.mask_values)
        run.optimizer, run.scheduler = run.make_optimizer([p for p in model.parameters() if p.requires_grad])
        start = 0 if rnd == 0 else self.rewind_step
        per_epoch = self.steps_per_epoch(run)
        self.state = LoopState(
            step=start,
            epoch=start // per_epoch,
            batch_in_epoch=start % per_epoch,
            samples=start * self.batch_size,
        )
        if run.scheduler is not None and start:
            with warnings.catch_warnings():  # stepping a schedule before the optimizer is intended here
                warnings.simplefilter("ignore", UserWarning)
                for _ in range(start):
                    run.scheduler.step()
        self.stage_started = True

    def _random_reinit(self, model: torch.nn.Module, seed: int) -> None:
        """``theta'_0 ~ D_theta``: a fresh draw from each module's own initialiser (``reset_parameters``),
        from a seed of its own so the training RNG stream is untouched."""
        devices = []
        if self.device.type == "cuda":
            devices = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            for module in model.modules():
                reset = getattr(module, "reset_parameters", None)
                if callable(reset):
                    reset()

    def maybe_capture_rewind_point(self) -> None:
        """Remember ``theta_k`` once the dense run has taken ``k`` steps."""
        if self.rewind_state is None and self.stage == 0 and self.state.step == self.rewind_step:
            self.rewind_state = _snapshot(self.run.model)

    @property
    def masks(self) -> list[torch.Tensor]:
        """The boolean masks (True: the weight survives)."""
        return [v != 0 for v in self.mask_values]

    def set_masks(self, masks: list[torch.Tensor]) -> None:
        """Keep masks as 0/1 in each weight's dtype only: one multiply per step, no conversion."""
        self.mask_values = [m.to(p.device, p.dtype) for m, p in zip(masks, self.pruned_params)]

    # -- outputs -----------------------------------------------------------------------------------
    def layer_density(self) -> dict[str, float]:
        return {p.name: float(m.float().mean()) for p, m in zip(self.prunable, self.masks)}

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        """The core summary plus the pruning settings, final densities and per-round results."""
        summary = super().summarize(run, metrics)
        tickets = [r for r in self.records if r["phase"] == "ticket"]
        controls = {r["round"]: r for r in self.records if r["phase"] == "control"}
        metric_keys = (
            [k for k in tickets[-1] if k not in ("round", "phase", "density", "steps")] if tickets else []
        )
        summary.update(
            {
                "rounds": self.rounds,
                "rate": self.rate,
                "output_rate": self.output_rate,
                "rewind_step": self.rewind_step,
                "control": self.control,
                "density": density(self.masks),
                "layer_density": self.layer_density(),
                "density_per_round": [r["density"] for r in tickets],
            }
        )
        for key in metric_keys:
            summary[f"{key}_per_round"] = [r.get(key) for r in tickets]
            if controls:
                summary[f"control_{key}_per_round"] = [
                    controls[r["round"]].get(key) if r["round"] in controls else None for r in tickets
                ]
        return summary

    def finish(self, run: Run) -> dict[str, Any]:
        """The core's outputs, and the final masks in ``masks.safetensors`` (1: the weight survives)."""
        self.train_seconds = self._seconds
        summary = super().finish(run)
        if self.is_main and run.run_dir is not None:
            from safetensors.torch import save_file

            save_file(
                {p.name: m.to(torch.uint8).cpu().contiguous() for p, m in zip(self.prunable, self.masks)},
                str(run.run_dir / "masks.safetensors"),
            )
        return summary

    def log(self, record: dict[str, Any]) -> None:
        stages = self.stages()
        rnd, phase = stages[min(self.stage, len(stages) - 1)]
        super().log({"stage": self.stage, "round": rnd, "phase": phase, **record})

    # -- checkpoints -------------------------------------------------------------------------------
    def save_checkpoint(self, run: Run) -> None:
        # The loop's own end-of-run checkpoint is written by ``fit`` once the round's results are in.
        if self.state.step >= self.total_steps(run) and not self._writing_stage_end:
            return
        super().save_checkpoint(run)

    def extra_state(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "stage_started": self.stage_started,
            "masks": {p.name: m.cpu() for p, m in zip(self.prunable, self.masks)},
            "rewind_state": _to_cpu(self.rewind_state),
            "records": self.records,
            "seconds": self._seconds,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._loaded = state

    def _unpack(self, state: dict[str, Any]) -> None:
        self.stage, self.stage_started = int(state["stage"]), bool(state["stage_started"])
        self.set_masks([state["masks"][p.name] for p in self.prunable])
        rewind = state["rewind_state"]
        self.rewind_state = None if rewind is None else {k: v.to(self.device) for k, v in rewind.items()}
        self.records, self._seconds = list(state["records"]), float(state["seconds"])


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _to_cpu(state: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor] | None:
    return None if state is None else {k: v.cpu() for k, v in state.items()}
