"""``sparse_pretrain_dense_finetune``: SPDF in one run of the supervised loop.

Steps ``0 .. pretrain_steps - 1`` train with static random masks (sparsity ``s`` in the selected
Linears, see :func:`~paperzoo_spdf.masks.layer_selector`); at step ``pretrain_steps`` the masks are
opened (``finetune: dense``, the method: the formerly masked weights start at zero and learn) or kept
(``finetune: sparse``, the sparse-to-sparse baseline), and with ``reset_optimizer`` the optimizer's
moments are cleared, as a fine-tuning run that starts from the pre-trained weights with a fresh
optimizer would have them. The remaining steps up to ``max_steps`` (or the epochs) fine-tune on the same
data: fine-tuning on another data set is a second run (or the Python API, as the claim test does).

The summary adds the matmul FLOPs of the Linears over each phase, as dense layers and with the masks'
zeros skipped (:mod:`paperzoo_spdf.flops`), and ``pretrain_flops_saved``: the fraction of pre-training
Linear FLOPs the masks save.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import torch
from paperzoo.checks import check_choice, check_float, check_int
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised
from paperzoo_compress.sparsity import MaskedLinear, model_density
from torch import nn

from paperzoo_spdf.flops import Flops, count_flops
from paperzoo_spdf.masks import open_masks_, sparsify_random


class _CountFlops:
    """Loop callback: each step's Linear FLOPs, added to the phase the step belongs to."""

    def on_train_start(self, trainer: SparsePretrainDenseFinetune) -> None:
        trainer.open_counter()

    def on_step_end(self, trainer: SparsePretrainDenseFinetune, _loss: float) -> None:
        trainer.close_counter()
        trainer.open_counter()


class SparsePretrainDenseFinetune(Supervised):
    """Sparse pre-training with static random masks, then dense (or sparse) fine-tuning.

    :param sparsity: fraction of each selected matrix masked during pre-training (paper: 0.5 to 0.75).
    :param pretrain_steps: sparse pre-training steps (default: half of the run's steps).
    :param finetune: ``dense`` (SPDF: masks removed) or ``sparse`` (masks kept: the baseline).
    :param reset_optimizer: clear the optimizer's state at the switch (a fresh fine-tuning optimizer).
    :param layers: regular expression of the Linear names to sparsify (default: a model's ``blocks.``
        Linears, else every Linear but the last).
    :param mask_seed: seed of the masks (default: the run's seed).
    :param loop: the ``supervised`` loop's params (``max_steps``, ``batch_size``, ...).
    """

    def __init__(
        self,
        sparsity: float = 0.5,
        pretrain_steps: int | None = None,
        finetune: Literal["dense", "sparse"] = "dense",
        reset_optimizer: bool = True,
        layers: str | None = None,
        mask_seed: int | None = None,
        **loop: Any,
    ):
        super().__init__(**loop)
        check_float("sparsity", sparsity, 0.0, 0.99)
        if pretrain_steps is not None:
            check_int("pretrain_steps", pretrain_steps, 0)
        check_choice("finetune", finetune, ("dense", "sparse"))
        if not isinstance(reset_optimizer, bool):
            raise ParamError("reset_optimizer", f"{reset_optimizer!r}; accepted: true or false")
        if mask_seed is not None:
            check_int("mask_seed", mask_seed, 0)
        if layers is not None:
            try:
                re.compile(layers)
            except re.error as exc:
                raise ParamError("layers", f"{layers!r} is not a regular expression ({exc})") from None
        self.sparsity, self.pretrain_steps_param, self.finetune = sparsity, pretrain_steps, finetune
        self.reset_optimizer, self.layers, self.mask_seed = reset_optimizer, layers, mask_seed
        self.switched = False
        self.flops = {"pretrain": Flops(), "finetune": Flops()}
        self.callbacks.append(_CountFlops())
        self._counter: Any = None

    def check_model(self, model: nn.Module) -> None:
        """Refuse, before the run directory exists, a ``layers`` pattern that matches no Linear."""
        if self.layers is not None:
            pattern = re.compile(self.layers)
            if not any(type(m) is nn.Linear and pattern.search(n) for n, m in model.named_modules()):
                raise ValueError(f"trainer.layers {self.layers!r} matches no nn.Linear of the model")

    def pretrain_steps(self, run: Run) -> int:
        """Sparse steps: ``pretrain_steps``, or half of the run's steps."""
        total = self.total_steps(run)
        return min(total // 2 if self.pretrain_steps_param is None else self.pretrain_steps_param, total)

    # -- FLOP counting, per phase -----------------------------------------------------------------
    def open_counter(self) -> None:
        self._counter = count_flops(self.run.model)
        self._phase = "finetune" if self.switched else "pretrain"
        self._count = self._counter.__enter__()

    def close_counter(self) -> None:
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.flops[self._phase] += self._count
            self._counter = None

    # -- the switch -------------------------------------------------------------------------------
    def switch(self, run: Run) -> None:
        """Pre-training ends: open the masks (``dense``) and reset the optimizer's moments."""
        self.pretrain_density = model_density(run.model)
        if self.finetune == "dense":
            open_masks_(run.model)
        if self.reset_optimizer and run.optimizer is not None:
            run.optimizer.state.clear()
        self.switched = True
        self._phase = "finetune"

    def compute_loss(self, model: nn.Module, batch: tuple, task: str) -> torch.Tensor:
        if not self.switched and self.state.step >= self.pretrain_steps(self.run):
            self.switch(self.run)
        return super().compute_loss(model, batch, task)

    def fit(self, run: Run) -> dict[str, Any]:
        seed = run.seed if self.mask_seed is None else self.mask_seed
        self.masked = sparsify_random(run.model, self.sparsity, seed, self.layers)
        if not self.masked:
            raise ParamError("layers", f"{self.layers!r} matches no nn.Linear of the model")
        self.pretrain_density = model_density(run.model)
        self.switched = False
        self.setup(run)  # a resumed run restores masks, weights, the phase and the FLOP counts
        try:
            self.train(run)
        finally:
            self.close_counter()
        if not self.switched and self.state.step >= self.pretrain_steps(run):
            self.switch(run)  # a run whose pre-training fills all its steps still ends dense
        return self.finish(run)

    def extra_state(self) -> dict[str, Any]:
        return {
            "switched": self.switched,
            "pretrain_density": self.pretrain_density,
            "flops": {k: [v.dense, v.sparse] for k, v in self.flops.items()},
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.switched = bool(state.get("switched", False))
        self.pretrain_density = float(state.get("pretrain_density", self.pretrain_density))
        self.flops = {k: Flops(*v) for k, v in state.get("flops", {}).items()} or self.flops

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        out = super().summarize(run, metrics)
        pre, fine = self.flops["pretrain"], self.flops["finetune"]
        out.update(
            sparsity=self.sparsity,
            finetune=self.finetune,
            pretrain_steps=self.pretrain_steps(run),
            pretrain_density=self.pretrain_density,
            final_density=model_density(run.model),
            masked_layers=sum(isinstance(m, MaskedLinear) for m in run.model.modules()),
            pretrain_flops_dense=pre.dense,
            pretrain_flops_sparse=pre.sparse,
            pretrain_flops_saved=1.0 - pre.ratio,
            finetune_flops=fine.sparse,
            total_flops_saved=1.0 - (pre + fine).ratio,
        )
        return out
