"""Evaluators: decode continuations of validation prompts and score them, and the isotropy score."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import DataBundle, fetch, spread_indices
from paperzoo_tinylm.protocol import forward

from .decoding import contrastive_search, greedy_search
from .metrics import repetition_metrics, similarity_sums


def _split(data: DataBundle, split: str) -> Any:
    if data.task != "language_modeling":
        raise ValueError(f"this evaluator needs a language-modelling dataset, got task {data.task!r}")
    if split not in ("val", "train"):
        raise ValueError("split must be 'val' or 'train'")
    return getattr(data, split)


def spread_inputs(dataset: Any, n: int) -> torch.Tensor:
    """Inputs of ``n`` examples spread evenly over ``dataset`` (first and last included): ``(n, S)``."""
    if n < 1:
        raise ValueError(f"need at least one example, got {n}")
    return fetch(dataset, spread_indices(len(dataset), n))[0].long()


def _device(model: torch.nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


class _Decoding:
    """Decode ``max_new_tokens`` after the first ``prompt_len`` tokens of ``n_prompts`` validation
    sequences; report rep-n and diversity of the continuations, their mean log-likelihood under the
    model, and the model's isotropy on those validation sequences."""

    keys: tuple[str, ...] = ("rep_2", "rep_3", "rep_4", "diversity", "isotropy", "log_likelihood")

    def __init__(self, max_new_tokens: int, n_prompts: int, prompt_len: int, batch_size: int, split: str):
        if prompt_len < 1 or max_new_tokens < 4:
            raise ValueError("prompt_len must be >= 1 and max_new_tokens >= 4 (rep-4 needs four tokens)")
        self.max_new_tokens, self.n_prompts, self.prompt_len = max_new_tokens, n_prompts, prompt_len
        self.batch_size, self.split = batch_size, split

    def decode(self, model: Any, prompts: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_length(self, model: Any, seq_len: int) -> None:
        if seq_len < self.prompt_len:
            raise ValueError(f"prompt_len {self.prompt_len} exceeds the sequence length {seq_len}")
        config = getattr(model, "config", None)
        limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
        if isinstance(limit, int) and self.prompt_len + self.max_new_tokens > limit:
            raise ValueError(
                f"prompt_len + max_new_tokens = {self.prompt_len + self.max_new_tokens} exceeds "
                f"the model's {limit} positions"
            )

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        texts = spread_inputs(_split(data, self.split), self.n_prompts)
        self._check_length(model, texts.shape[1])
        was_training = model.training
        model.eval()
        texts = texts.to(_device(model))
        continuations, sim_sum, pairs, logprob = [], 0.0, 0, 0.0
        for chunk in texts.split(self.batch_size):
            generated = self.decode(model, chunk[:, : self.prompt_len])
            continuations.append(generated[:, self.prompt_len :])
            # Model log-likelihood of its own continuation: log p(x_t | x_<t) summed over the new tokens.
            logp = forward(model, generated, None, False).logits[:, self.prompt_len - 1 : -1].float()
            logp = logp.log_softmax(dim=-1).gather(-1, generated[:, self.prompt_len :, None])
            logprob += float(logp.sum())
            total, count = similarity_sums(forward(model, chunk, None, False, hidden=True).hidden)
            sim_sum, pairs = sim_sum + float(total), pairs + count
        model.train(was_training)
        generated_tokens = torch.cat(continuations)
        return {
            **repetition_metrics(generated_tokens),
            "isotropy": 1.0 - sim_sum / pairs,
            "log_likelihood": logprob / generated_tokens.numel(),
        }


class ContrastiveSearch(_Decoding):
    """Contrastive search (Eq. 5 of Su et al., 2022) on validation prompts, scored with rep-2/3/4,
    diversity, the continuations' mean log-likelihood and the model's isotropy."""

    def __init__(
        self,
        alpha: float = 0.6,
        k: int = 5,
        max_new_tokens: int = 64,
        n_prompts: int = 16,
        prompt_len: int = 32,
        batch_size: int = 64,
        split: str = "val",
    ):
        """:param alpha: degeneration penalty in ``[0, 1]``.
        :param k: candidate tokens per step.
        :param max_new_tokens: tokens generated per prompt.
        :param n_prompts: validation sequences used as prompts, spread evenly over the split.
        :param prompt_len: leading tokens of each sequence given as the prompt.
        :param batch_size: prompts decoded together.
        :param split: ``val`` or ``train``."""
        super().__init__(max_new_tokens, n_prompts, prompt_len, batch_size, split)
        if not 0.0 <= alpha <= 1.0 or k < 1:
            raise ValueError(f"need 0 <= alpha <= 1 and k >= 1, got alpha={alpha}, k={k}")
        self.alpha, self.k = alpha, k

    def decode(self, model: Any, prompts: torch.Tensor) -> torch.Tensor:
        return contrastive_search(model, prompts, self.alpha, self.k, self.max_new_tokens)


class GreedySearch(_Decoding):
    """Greedy decoding on the same prompts with the same metrics (the baseline of the paper)."""

    def __init__(
        self,
        max_new_tokens: int = 64,
        n_prompts: int = 16,
        prompt_len: int = 32,
        batch_size: int = 64,
        split: str = "val",
    ):
        """:param max_new_tokens: tokens generated per prompt.
        :param n_prompts: validation sequences used as prompts, spread evenly over the split.
        :param prompt_len: leading tokens of each sequence given as the prompt.
        :param batch_size: prompts decoded together.
        :param split: ``val`` or ``train``."""
        super().__init__(max_new_tokens, n_prompts, prompt_len, batch_size, split)

    def decode(self, model: Any, prompts: torch.Tensor) -> torch.Tensor:
        return greedy_search(model, prompts, self.max_new_tokens)


class Isotropy:
    """``1 - s``, ``s`` the average cosine similarity between the final-layer representations of the
    tokens within a sequence (Su & Collier, 2023), over ``n_sequences`` validation sequences."""

    keys = ("isotropy",)

    def __init__(self, n_sequences: int = 64, batch_size: int = 32, split: str = "val"):
        """:param n_sequences: validation sequences, spread evenly over the split.
        :param batch_size: sequences per forward pass.
        :param split: ``val`` or ``train``."""
        self.n_sequences, self.batch_size, self.split = n_sequences, batch_size, split

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        texts = spread_inputs(_split(data, self.split), self.n_sequences)
        if texts.shape[1] < 2:
            raise ValueError("isotropy needs sequences of at least two tokens")
        was_training = model.training
        model.eval()
        sim_sum, pairs = 0.0, 0
        for chunk in texts.to(_device(model)).split(self.batch_size):
            total, count = similarity_sums(forward(model, chunk, None, False, hidden=True).hidden)
            sim_sum, pairs = sim_sum + float(total), pairs + count
        model.train(was_training)
        return {"isotropy": 1.0 - sim_sum / pairs}
