"""Decoding with a kNN-LM and the entropies of its retrieval and LM distributions per generated position.

A kNN-LM is not a model with a key/value cache, so :func:`generate` decodes it through tinylm's decoding
loop (:mod:`paperzoo_tinylm.generate`, ``use_cache=False``): the decoder reruns on the whole prefix at
every step (exact; fine for the short continuations analysed here) and the datastore is searched only
for the last position. :func:`entropies_by_position` then scores the finished sequences in one pass: a
causal decoder's output at a position depends only on its prefix, so these are the very distributions
the tokens were drawn from.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from paperzoo_knn_lm.datastore import extract_keys
from paperzoo_knn_lm.knn import KNNLM
from paperzoo_tinylm.generate import greedy_search, sample

from paperzoo_knnlm_generation_analysis.analysis import entropy

SOURCES = ("knnlm", "lm")
DECODINGS = ("sample", "greedy")


@torch.no_grad()
def next_log_probs(knnlm: KNNLM, ids: torch.Tensor, source: str = "knnlm") -> torch.Tensor:
    """Next-token log-probabilities ``[B, V]`` (float64) after ``ids`` ``[B, S]`` from the kNN-LM or
    its base LM."""
    h, logits = extract_keys(knnlm.model, ids, knnlm.key)
    lm = logits[:, -1].log_softmax(-1)
    if source == "lm":
        return lm.double()
    d, i = knnlm.index.search(h[:, -1], knnlm.k)
    return knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1]))


class NextTokenModel:
    """A kNN-LM (or its base LM) as a causal LM of tinylm's protocol, without a cache: called on ``[B, S]``
    ids it returns an object whose ``logits`` ``[B, 1, V]`` are the next-token log-probabilities after
    the whole prefix (only the last position: the one a decoding step reads)."""

    def __init__(self, knnlm: KNNLM, source: str = "knnlm") -> None:
        self.knnlm, self.source = knnlm, source

    def __call__(self, input_ids: torch.Tensor, **_: object) -> SimpleNamespace:
        return SimpleNamespace(logits=next_log_probs(self.knnlm, input_ids, self.source)[:, None])


@torch.no_grad()
def generate(
    knnlm: KNNLM,
    prompts: torch.Tensor,
    max_new_tokens: int,
    source: str = "knnlm",
    decoding: str = "sample",
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``[B, S + max_new_tokens]``: ``prompts`` ``[B, S]`` followed by tokens drawn from ``source``
    (``knnlm`` or ``lm``) by ``sample`` (nucleus ``top_p``; seeded by ``generator``) or ``greedy``."""
    if source not in SOURCES:
        raise ValueError(f"source: got {source!r}; accepted: {', '.join(SOURCES)}")
    if decoding not in DECODINGS:
        raise ValueError(f"decoding: got {decoding!r}; accepted: {', '.join(DECODINGS)}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p: got {top_p}; accepted: 0 < top_p <= 1")
    model = NextTokenModel(knnlm, source)
    if decoding == "greedy":
        return greedy_search(model, prompts, max_new_tokens, use_cache=False)
    return sample(model, prompts, max_new_tokens, top_p=top_p, use_cache=False, generator=generator)


@torch.no_grad()
def entropies_by_position(knnlm: KNNLM, ids: torch.Tensor, prompt_len: int) -> dict[str, torch.Tensor]:
    """Entropies (nats, float64) ``[B, L]`` of ``p_kNN`` (``knn``), ``p_LM`` (``lm``) and their mixture
    (``knnlm``) at the ``L = ids.shape[1] - prompt_len`` positions that predict generated tokens
    (column ``j`` predicts token ``prompt_len + j``)."""
    if not 1 <= prompt_len < ids.shape[1]:
        raise ValueError(f"prompt_len: got {prompt_len}; accepted: 1 to {ids.shape[1] - 1}")
    lm, d, i = knnlm.neighbours(ids[:, :-1])
    lm, d, i = lm[:, prompt_len - 1 :], d[:, prompt_len - 1 :], i[:, prompt_len - 1 :]
    knn = knnlm.knn_from(d, i, lm.shape[-1])
    return {"knn": entropy(knn), "lm": entropy(lm), "knnlm": entropy(knnlm.log_probs_from(lm, knn))}
