"""``coprocessor_training``: train a :class:`~paperzoo_cache_coprocessor.coprocessor.KVCacheCoprocessor`'s
coprocessor and soft tokens with the language-model loss on the ``ahead`` tokens that follow random split
points of training sequences, the decoder frozen.

Optionally the decoder is first pre-trained (``decoder_steps`` steps of the plain next-token loss, its
own optimizer from the config's optimizer section); the coprocessor is then initialised from it.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from paperzoo.checks import check_int
from paperzoo.data import fetch
from paperzoo.errors import ParamError
from paperzoo.losses import logits_of, task_loss
from paperzoo.trainer import Run, Supervised

from paperzoo_cache_coprocessor.coprocessor import KVCacheCoprocessor


def sample_splits(rng: random.Random, length: int, n: int, min_prefix: int) -> list[int]:
    """``n`` split points drawn uniformly from ``min_prefix .. length - 1`` (at least one target after)."""
    low = min(max(1, min_prefix), length - 1)
    return [rng.randint(low, length - 1) for _ in range(n)]


class CoprocessorTraining(Supervised):
    """The supervised loop with the cache-augmentation objective.

    :param ahead: ``M``, the tokens after each split point whose loss trains the coprocessor.
    :param n_splits: split points per sequence and step (each augmented separately; one draw shared by
        the rows of a batch).
    :param min_prefix: the shortest prefix a split leaves.
    :param decoder_steps: steps of plain next-token pre-training of the decoder before it is frozen and
        copied into the coprocessor (0: the decoder is used as built, e.g. a pretrained checkpoint).
    Other params: those of the supervised loop (``max_steps`` counts coprocessor steps).
    """

    def __init__(
        self, ahead: int = 16, n_splits: int = 1, min_prefix: int = 1, decoder_steps: int = 0, **loop: Any
    ) -> None:
        check_int("ahead", ahead, 1)
        check_int("n_splits", n_splits, 1)
        check_int("min_prefix", min_prefix, 1)
        check_int("decoder_steps", decoder_steps, 0)
        super().__init__(**loop)
        self.ahead, self.n_splits, self.min_prefix, self.decoder_steps = (
            ahead,
            n_splits,
            min_prefix,
            decoder_steps,
        )

    def check_model(self, model: torch.nn.Module) -> None:
        """Refuse, before anything is written, a model other than ``kv_cache_coprocessor`` (the engine
        reports the ``ValueError`` at ``model``)."""
        if not isinstance(model, KVCacheCoprocessor):
            raise ValueError(f"got {type(model).__name__}; accepted: a kv_cache_coprocessor model")

    def fit(self, run: Run) -> dict[str, Any]:
        self.check_model(run.model)
        self.setup(run)
        self.rng = random.Random(run.seed)
        if self.state.step == 0 and self.decoder_steps:
            self.pretrain_decoder(run)
        self.train(run)
        return self.finish(run)

    def pretrain_decoder(self, run: Run) -> None:
        """``decoder_steps`` steps of the task's loss on the decoder alone, then freeze and copy it."""
        model, dec = run.model, run.model.decoder
        dec.requires_grad_(True)
        dec.train()
        if run.make_optimizer is None:
            raise ParamError(
                "optimizer", "missing; accepted: an optimizer section (decoder_steps > 0 needs one)"
            )
        opt, sched = run.make_optimizer(dec.parameters())
        gen = torch.Generator().manual_seed(run.seed)
        n = len(run.data.train)
        for _ in range(self.decoder_steps):
            idx = torch.randint(n, (min(self.batch_size, n),), generator=gen)
            x, y = (t.to(self.device) for t in fetch(run.data.train, idx))
            opt.zero_grad(set_to_none=True)
            task_loss(logits_of(dec(x)), y, run.data.task).backward()
            opt.step()
            if sched is not None:
                sched.step()
        model.freeze_decoder()
        model.train()
        model.reset_coprocessor()
        self.log({"step": 0, "decoder_pretrained_steps": self.decoder_steps})

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        x, y = batch
        splits = sample_splits(self.rng, x.shape[1], self.n_splits, self.min_prefix)
        return model.ahead_loss(x, y, splits, self.ahead)

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        model = run.model
        return {
            **super().summarize(run, metrics),
            "n_latents": model.n_latents,
            "trainable_parameters": sum(p.numel() for p in model.trainable_parameters()),
        }
