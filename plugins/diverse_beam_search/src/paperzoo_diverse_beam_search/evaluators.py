"""The ``diverse_beam_search`` evaluator: decode validation prompts with diverse beam search and score
the set of returned beams by distinct-n and by the model's log-likelihood of them."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import DataBundle
from paperzoo_contrastive_search.evaluators import spread_inputs
from paperzoo_contrastive_search.metrics import distinct_n
from paperzoo_tinylm.protocol import forward

from .decoding import _check, _resolve, diverse_beam_search


@torch.no_grad()
def sequence_log_likelihood(model: Any, sequences: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """``(N,)`` mean per-token ``log p(x_t | x_<t)`` of each sequence's continuation under ``model``
    (unpenalised: the diversity term is not part of it)."""
    logp = forward(model, sequences, None, False).logits[:, prompt_len - 1 : -1].float().log_softmax(dim=-1)
    return logp.gather(-1, sequences[:, prompt_len:, None]).squeeze(-1).mean(dim=-1)


class DiverseBeamSearch:
    """Diverse beam search (Vijayakumar et al., 2018) of ``n_prompts`` validation prompts, all
    ``num_beams`` beams returned; ``num_beam_groups=1`` is the beam-search baseline.

    Reports ``distinct_1`` ... ``distinct_4`` (distinct n-grams among one prompt's returned
    continuations over their total, averaged over prompts), ``log_likelihood`` (mean per-token
    log-probability of all returned continuations) and ``best_log_likelihood`` (of each prompt's top
    beam)."""

    keys = ("distinct_1", "distinct_2", "distinct_3", "distinct_4", "log_likelihood", "best_log_likelihood")

    def __init__(
        self,
        num_beams: int = 6,
        num_beam_groups: int = 3,
        diversity_penalty: float = 0.5,
        diversity: str = "hamming",
        max_new_tokens: int = 16,
        n_prompts: int = 8,
        prompt_len: int = 32,
        split: str = "val",
    ):
        """:param num_beams: beams per prompt (all returned).
        :param num_beam_groups: groups, a divisor of ``num_beams`` (``1``: plain beam search).
        :param diversity_penalty: ``lambda >= 0``.
        :param diversity: ``hamming`` or ``cumulative``.
        :param max_new_tokens: tokens generated per beam (at least 4: distinct-4 needs four).
        :param n_prompts: validation sequences used as prompts, spread evenly over the split.
        :param prompt_len: leading tokens of each sequence given as the prompt.
        :param split: ``val`` or ``train``."""
        _check(num_beams, num_beam_groups, diversity_penalty, num_beams, False)
        _resolve(diversity)
        if max_new_tokens < 4 or prompt_len < 1 or n_prompts < 1:
            raise ValueError("need max_new_tokens >= 4, prompt_len >= 1 and n_prompts >= 1")
        if split not in ("val", "train"):
            raise ValueError(f"split must be 'val' or 'train', got {split!r}")
        self.num_beams, self.num_beam_groups = num_beams, num_beam_groups
        self.diversity_penalty, self.diversity = float(diversity_penalty), diversity
        self.max_new_tokens, self.n_prompts, self.prompt_len, self.split = (
            max_new_tokens,
            n_prompts,
            prompt_len,
            split,
        )

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        if data.task != "language_modeling":
            raise ValueError(
                f"diverse_beam_search needs a language-modelling dataset, got task {data.task!r}"
            )
        texts = spread_inputs(getattr(data, self.split), self.n_prompts)
        if texts.shape[1] < self.prompt_len:
            raise ValueError(f"prompt_len {self.prompt_len} exceeds the sequence length {texts.shape[1]}")
        was_training = model.training
        model.eval()
        device = next(iter(model.parameters()), torch.empty(0)).device
        prompts = texts[:, : self.prompt_len].to(device)
        beams = diverse_beam_search(
            model,
            prompts,
            self.num_beams,
            self.num_beam_groups,
            self.diversity_penalty,
            self.max_new_tokens,
            diversity=self.diversity,
            num_return_sequences=self.num_beams,
        )
        loglik = sequence_log_likelihood(model, beams, self.prompt_len).view(-1, self.num_beams)
        model.train(was_training)
        continuations = beams[:, self.prompt_len :].view(-1, self.num_beams, self.max_new_tokens)
        out = {
            f"distinct_{n}": sum(distinct_n(c, n) for c in continuations) / len(continuations)
            for n in (1, 2, 3, 4)
        }
        out["log_likelihood"] = float(loglik.mean())
        out["best_log_likelihood"] = float(loglik[:, 0].mean())
        return out
