"""Spurious key-space correlation: how much the probabilities of mid-ranked next tokens follow the
similarity of their unembedding (key) vectors to the top-1 token's key.

For one next-token distribution (logits ``z``, keys ``W`` ``[V, d]`` the rows of the unembedding), order
the vocabulary by ``z`` (descending, ties by lower id), take the tokens at ranks ``lo .. hi-1`` (0-based;
the paper's window after the top ``K = 10``, up to ``N = 100``), and correlate their log-probability (or
their negated rank) with the cosine (or dot) similarity of their key to the top-1 token's key. A positive
correlation means the middle of the distribution is ordered by closeness to the top prediction in key
space, whatever the tokens mean.
"""

from __future__ import annotations

import torch

SIMILARITIES = ("cosine", "dot")
TARGETS = ("logprob", "rank")
METHODS = ("spearman", "pearson")


def rankdata(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (1-based, ties share their mean rank) along the last dimension, as
    ``scipy.stats.rankdata(method="average")``."""
    order = x.argsort(dim=-1, stable=True)
    sorted_x = x.gather(-1, order)
    n = x.shape[-1]
    pos = torch.arange(1, n + 1, dtype=torch.float64, device=x.device).expand_as(sorted_x)
    new_group = torch.ones_like(sorted_x, dtype=torch.bool)
    new_group[..., 1:] = sorted_x[..., 1:] != sorted_x[..., :-1]
    group = new_group.long().cumsum(-1) - 1  # group index of each sorted entry
    sums = torch.zeros_like(pos).scatter_add_(-1, group, pos)
    counts = torch.zeros_like(pos).scatter_add_(-1, group, torch.ones_like(pos))
    avg = sums.gather(-1, group) / counts.gather(-1, group)
    return torch.empty_like(avg).scatter_(-1, order, avg)


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation along the last dimension (float64); 0 where either side is constant."""
    x, y = x.double(), y.double()
    x = x - x.mean(-1, keepdim=True)
    y = y - y.mean(-1, keepdim=True)
    den = (x.square().sum(-1) * y.square().sum(-1)).sqrt()
    num = (x * y).sum(-1)
    return torch.where(den > 0, num / den.clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(num))


def key_similarity(
    keys: torch.Tensor, ids: torch.Tensor, anchor: torch.Tensor, similarity: str
) -> torch.Tensor:
    """Similarity of ``keys[ids]`` (``[N, M]`` ids) to ``keys[anchor]`` (``[N]`` ids): ``[N, M]`` float64."""
    k = keys.double()
    if similarity == "cosine":
        k = torch.nn.functional.normalize(k, dim=-1)
    return torch.einsum("nmd,nd->nm", k[ids], k[anchor])


def window_bounds(vocab: int, lo: int, hi: int) -> tuple[int, int]:
    """The rank window clipped to the vocabulary; ``ValueError`` when fewer than 3 ranks remain."""
    hi = min(hi, vocab)
    if lo < 1 or hi - lo < 3:
        raise ValueError(f"rank window [{lo}, {hi}) over {vocab} tokens: needs lo >= 1 and at least 3 ranks")
    return lo, hi


def key_space_bias(
    logits: torch.Tensor,
    keys: torch.Tensor,
    lo: int = 10,
    hi: int = 100,
    similarity: str = "cosine",
    target: str = "logprob",
    method: str = "spearman",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per distribution (``logits`` ``[N, V]`` or ``[V]``; ``keys`` ``[V, d]``): the correlation between the
    window tokens' log-probability (``target="logprob"``) or negated rank (``"rank"``) and their key
    similarity to the top-1 key, and the mean similarity in the window. Returns ``(corr, mean_sim)``,
    each ``[N]`` (float64)."""
    if similarity not in SIMILARITIES or target not in TARGETS or method not in METHODS:
        raise ValueError(f"similarity/target/method must be in {SIMILARITIES}/{TARGETS}/{METHODS}")
    z = logits.unsqueeze(0) if logits.dim() == 1 else logits
    if keys.shape[0] < z.shape[-1]:
        raise ValueError(f"keys have {keys.shape[0]} rows for {z.shape[-1]} logits")
    lo, hi = window_bounds(z.shape[-1], lo, hi)
    z = z.double()
    order = z.argsort(dim=-1, descending=True, stable=True)
    ids = order[:, lo:hi]
    sim = key_similarity(keys, ids, order[:, 0], similarity)
    if target == "logprob":
        value = z.log_softmax(-1).gather(-1, ids)
    else:
        value = -torch.arange(lo, hi, dtype=torch.float64, device=z.device).expand(z.shape[0], -1)
    if method == "spearman":
        value, sim_c = rankdata(value), rankdata(sim)
    else:
        sim_c = sim
    return pearson(value, sim_c), sim.mean(-1)


def unembedding(model: torch.nn.Module) -> torch.Tensor:
    """The key matrix ``[V, d]``: ``get_output_embeddings()`` (transformers) or an ``lm_head`` Linear."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    head = head if head is not None else getattr(model, "lm_head", None)
    if head is None or not hasattr(head, "weight"):
        raise ValueError("the model has no output embeddings (get_output_embeddings() or lm_head)")
    return head.weight
