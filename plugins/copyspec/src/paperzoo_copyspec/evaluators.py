"""The ``copyspec_decoding`` evaluator: CopySpec on validation prompts, against greedy decoding."""

from __future__ import annotations

import torch
from paperzoo.data import DataBundle, fetch, spread_indices
from paperzoo_tinylm.generate import greedy_search

from .decoding import CopySpecStats, copyspec_generate


def repeated_prompts(texts: torch.Tensor, prompt_len: int, repeat: int) -> torch.Tensor:
    """The first ``prompt_len`` tokens of each row, followed by their first ``repeat`` tokens again (a
    prompt that starts to repeat a span, so that a copying model can continue it)."""
    prompts = texts[:, :prompt_len]
    return torch.cat([prompts, prompts[:, :repeat]], dim=1)


class CopySpecDecoding:
    """Greedy CopySpec decoding of ``n_prompts`` validation prompts: forward passes per generated token
    (plain decoding: 1), the acceptance rate of the copied drafts, the share of generated tokens that were
    copied, and whether every continuation equals greedy decoding's (1.0: all rows identical)."""

    keys = ("passes_per_token", "acceptance_rate", "copied_share", "attempts_per_token", "matches_greedy")

    def __init__(
        self,
        gamma: int = 3,
        number_copy: int = 10,
        max_new_tokens: int = 64,
        n_prompts: int = 8,
        prompt_len: int = 32,
        repeat: int = 0,
        split: str = "val",
        check_greedy: bool = True,
    ):
        """:param gamma: tokens matched to trigger a copy.
        :param number_copy: tokens copied per attempt.
        :param max_new_tokens: tokens generated per prompt.
        :param n_prompts: validation sequences used as prompts, evenly spaced over the split.
        :param prompt_len: leading tokens of each sequence used as the prompt.
        :param repeat: append the prompt's first ``repeat`` tokens again (0: the prompt as is).
        :param split: ``val`` or ``train``.
        :param check_greedy: also decode greedily and compare (``matches_greedy``; else reported as 1)."""
        if gamma < 1 or number_copy < 0 or max_new_tokens < 1 or prompt_len < 1:
            raise ValueError("need gamma >= 1, number_copy >= 0, max_new_tokens >= 1 and prompt_len >= 1")
        if n_prompts < 1:
            raise ValueError(f"n_prompts must be >= 1, got {n_prompts}")
        if not 0 <= repeat <= prompt_len:
            raise ValueError(f"repeat must be in [0, prompt_len], got {repeat}")
        if split not in ("val", "train"):
            raise ValueError(f"split must be 'val' or 'train', got {split!r}")
        self.gamma, self.number_copy, self.max_new_tokens = gamma, number_copy, max_new_tokens
        self.n_prompts, self.prompt_len, self.repeat = n_prompts, prompt_len, repeat
        self.split, self.check_greedy = split, check_greedy

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        if data.task != "language_modeling":
            raise ValueError(f"copyspec_decoding needs a language-modelling dataset, got {data.task!r}")
        split = getattr(data, self.split)
        texts = fetch(split, spread_indices(len(split), self.n_prompts))[0].long()
        if texts.shape[1] < self.prompt_len:
            raise ValueError(f"prompt_len {self.prompt_len} exceeds the sequence length {texts.shape[1]}")
        device = next(iter(model.parameters()), torch.empty(0)).device
        prompts = repeated_prompts(texts, self.prompt_len, self.repeat).to(device)
        was_training = model.training
        model.eval()
        stats = CopySpecStats()
        out = copyspec_generate(
            model, prompts, self.max_new_tokens, self.gamma, self.number_copy, stats=stats
        )
        same = 1.0
        if self.check_greedy:
            same = float(torch.equal(out, greedy_search(model, prompts, self.max_new_tokens)))
        model.train(was_training)
        return {
            "passes_per_token": stats.passes_per_token,
            "acceptance_rate": stats.acceptance_rate,
            "copied_share": stats.accepted / max(stats.generated, 1),
            "attempts_per_token": stats.attempts / max(stats.generated, 1),
            "matches_greedy": same,
        }
