"""``attention_drop`` and ``joint_layer_drop``: train with the supervised loop (or not at all: the
method is post-training), then score every module on calibration batches and drop the ``drop_n`` most
redundant ones, one-shot (or iteratively), with no retraining."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo import checkpoint
from paperzoo.checks import check_choice, check_int
from paperzoo.data import fetch
from paperzoo.trainer import Run, Supervised

from paperzoo_llm_drop.drop import apply_drops, check_model, iterative_drops, lm_loss, select_drops


class LayerDropTrainer(Supervised):
    """Supervised training, then module dropping among ``targets`` (set by the subclass).

    :param drop_n: modules to drop.
    :param method: ``one_shot`` (score once, drop the ``drop_n`` most similar: the paper's default) or
        ``iterative`` (score, drop the most similar one, rescore the dropped model, ``drop_n`` times).
    :param calib_batches: training batches (of ``batch_size``) used as calibration data.
    :param eval_batches: validation batches on which the summary reports the loss before and after.
    Other params: those of the supervised loop.
    """

    targets: tuple[str, ...] = ("attn",)

    def __init__(
        self,
        drop_n: int = 1,
        method: str = "one_shot",
        calib_batches: int = 4,
        eval_batches: int = 4,
        **loop: Any,
    ) -> None:
        check_int("drop_n", drop_n, 1)
        check_int("calib_batches", calib_batches, 1)
        check_int("eval_batches", eval_batches, 1)
        self.method = check_choice("method", method, ("one_shot", "iterative"))
        super().__init__(**loop)
        self.drop_n, self.calib_batches, self.eval_batches = drop_n, calib_batches, eval_batches
        self.drops: dict[str, list[int]] = {}
        self.report: dict[str, Any] = {}

    def extra_state(self) -> dict[str, Any]:
        return {"drops": self.drops, "report": self.report}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.drops = {k: list(v) for k, v in state.get("drops", {}).items()}
        self.report = dict(state.get("report", {}))

    def restore(self, run: Run) -> None:
        """A finished run's checkpoint holds the dropped model: drop the same modules before loading."""
        path = checkpoint.latest(run.run_dir / "checkpoints")
        if path is not None:
            extra = torch.load(path / "state.pt", weights_only=True).get("extra", {})
            if extra.get("drops"):
                apply_drops(run.model, extra["drops"], inplace=True)
        super().restore(run)

    def _ids(self, run: Run, split: str, batches: int) -> torch.Tensor:
        data = run.data.train if split == "train" else run.data.val
        n = min(len(data), batches * self.batch_size)
        return fetch(data, torch.arange(n))[0].to(self.device)

    def fit(self, run: Run) -> dict[str, Any]:
        check_model(run.model)
        self.setup(run)
        if not self.drops:
            self.train(run)
            model = run.model.eval()
            val = self._ids(run, "val", self.eval_batches)
            loss_full = lm_loss(model, val, self.batch_size)
            calib = self._ids(run, "train", self.calib_batches)
            if self.method == "iterative":
                _, drops = iterative_drops(model, calib, self.drop_n, self.targets, self.batch_size)
            else:
                drops = select_drops(model, calib, self.drop_n, self.targets, self.batch_size)
            apply_drops(model, drops, inplace=True)
            self.drops = drops
            self.report = {
                "val_loss_full": loss_full,
                "val_loss_dropped": lm_loss(model, val, self.batch_size),
            }
            self.save_checkpoint(run)
        return self.finish(run)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            **super().summarize(run, metrics),
            **{f"dropped_{t}": layers for t, layers in self.drops.items()},
            **self.report,
        }


class AttentionDrop(LayerDropTrainer):
    """``attention_drop``: drop the ``drop_n`` attention sublayers of highest ``cos(X, X + attn(X))``."""

    targets = ("attn",)


class JointLayerDrop(LayerDropTrainer):
    """``joint_layer_drop``: Joint Drop: rank attention and MLP sublayers together by similarity and drop
    the ``drop_n`` highest (the official code's ``target_layer: all``)."""

    targets = ("attn", "mlp")
