"""``future_token_prediction``: the supervised loop trained with the FTP loss on the ``x`` of a
language-modelling dataset; the trunk is a tinylm decoder, the head is built and trained alongside."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from paperzoo.errors import ParamError
from paperzoo.trainer import Run, Supervised

from paperzoo_future_token_prediction.ftp import FTPHead, future_loss, top_embeddings


class FutureTokenPredictionTrainer(Supervised):
    """The supervised loop with the FTP objective.

    :param n_future: N, future tokens per position. :param k: pseudo-sequence length.
    :param head_layers: decoder blocks of the head. :param head_heads: attention heads of the head.
    :param decay: geometric weight of token ``t+j`` (``decay^(j-1)``; 1: plain sum).
    Other params: those of the supervised loop.
    """

    def __init__(
        self,
        n_future: int = 4,
        k: int = 4,
        head_layers: int = 1,
        head_heads: int = 2,
        decay: float = 1.0,
        **loop: Any,
    ) -> None:
        for name, value in (("n_future", n_future), ("k", k), ("head_layers", head_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParamError(name, f"{value!r}; accepted: a positive integer")
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 < decay <= 1:
            raise ParamError("decay", f"{decay!r}; accepted: a number in (0, 1]")
        self.head_args = {"n_future": n_future, "k": k, "n_layers": head_layers, "n_heads": head_heads}
        self.decay = float(decay)
        super().__init__(**loop)

    def fit(self, run: Run) -> dict[str, Any]:
        cfg = getattr(run.model, "config", None)
        if cfg is None or not hasattr(cfg, "d_model"):
            raise ParamError("model", f"{type(run.model).__name__}; accepted: a tinylm_decoder")
        torch.manual_seed(run.seed)
        self.head = FTPHead(cfg.d_model, cfg.vocab_size, **self.head_args)
        if run.make_optimizer is not None:
            params = list(itertools.chain(run.model.parameters(), self.head.parameters()))
            run.optimizer, run.scheduler = run.make_optimizer(params)
        self.setup(run)
        self.head.to(self.device)
        self.train(run)
        return self.finish(run)

    def compute_loss(self, model: torch.nn.Module, batch: tuple, task: str) -> torch.Tensor:
        ids = batch[0]
        return future_loss(self.head, top_embeddings(model, ids), ids, self.decay)

    def extra_state(self) -> dict[str, Any]:
        return {"ftp_head": self.head.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "ftp_head" in state:
            self.head.load_state_dict(state["ftp_head"])

    def summarize(self, run: Run, metrics: dict[str, float]) -> dict[str, Any]:
        a = self.head_args
        return {
            **super().summarize(run, metrics),
            "objective": f"ftp N={a['n_future']} k={a['k']} decay={self.decay}",
        }
