"""``replaced_token_detection``: the supervised loop whose loss is ELECTRA's pre-training loss.

The model is an ``electra_generator_discriminator``; each micro-batch's input ids are masked, filled by
the generator and judged by the discriminator (see :mod:`paperzoo_electra.model`), with masking and
sampling drawn from the trainer's own generator (seeded by the run's seed, saved with checkpoints).
The targets of the data are not used: the objective is self-supervised.
"""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised, pick_device
from paperzoo_tinylm.tokenizer import PAD

from paperzoo_electra.model import ElectraGeneratorDiscriminator


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


class ReplacedTokenDetection(Supervised):
    """ELECTRA pre-training (generator MLM + 50 x replaced-token detection) in the supervised loop.

    :param eval_batches: validation batches for the summary's ``val_mlm_loss``, ``val_disc_loss`` and
        ``val_disc_accuracy`` (replaced-token detection accuracy over non-padding tokens).
    Other params: those of the supervised loop.
    """

    def __init__(self, eval_batches: int = 4, **loop: Any) -> None:
        if not isinstance(eval_batches, int) or isinstance(eval_batches, bool) or eval_batches < 0:
            raise ParamError("eval_batches", f"{eval_batches!r}; accepted: an integer >= 0")
        super().__init__(**loop)
        self.eval_batches = eval_batches
        self.rng: torch.Generator | None = None

    def setup(self, run: Run) -> None:
        if not isinstance(run.model, ElectraGeneratorDiscriminator):
            raise ValueError(
                f"replaced_token_detection trains an electra_generator_discriminator model, got "
                f"{type(run.model).__name__}"
            )
        # made before the loop's setup, which restores a resumed run's generator state into it
        self.rng = torch.Generator(device=pick_device(self.device_name)).manual_seed(run.seed)
        super().setup(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        return model(batch[0], generator=self.rng).loss

    def extra_state(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()} if self.rng is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "rng" in state and self.rng is not None:
            self.rng.set_state(state["rng"])

    @torch.no_grad()
    def validation_metrics(self, run: Run) -> dict[str, float]:
        """ELECTRA's losses and detection accuracy on the first validation batches (a fixed seed)."""
        model = _unwrap(self.model)
        was_training = model.training
        model.eval()
        rng = torch.Generator(device=self.device).manual_seed(run.seed + 1)
        sums, correct, tokens = {"mlm": 0.0, "disc": 0.0}, 0.0, 0.0
        n = min(len(run.data.val), self.eval_batches * self.batch_size)
        batches = 0
        for start in range(0, n, self.batch_size):
            ids = torch.stack([run.data.val[i][0] for i in range(start, min(n, start + self.batch_size))])
            ids = ids.to(self.device)
            out = model(ids, generator=rng)
            valid = ids != PAD
            correct += float(((out.disc_logits > 0).long() == out.labels)[valid].sum())
            tokens += float(valid.sum())
            sums["mlm"] += float(out.mlm_loss)
            sums["disc"] += float(out.disc_loss)
            batches += 1
        model.train(was_training)
        if not batches:
            return {}
        return {
            "val_mlm_loss": sums["mlm"] / batches,
            "val_disc_loss": sums["disc"] / batches,
            "val_disc_accuracy": correct / max(tokens, 1.0),
        }

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        return {**super().summarize(run, metrics), **self.validation_metrics(run)}
