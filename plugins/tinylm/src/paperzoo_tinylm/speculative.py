"""Speculative verify-and-accept: the step every draft-then-verify decoder shares.

A drafter (a small model, a copy of an earlier span, ...) proposes ``k`` tokens ``x_1..x_k`` after the
current sequence; the target model scores ``[last, x_1, ..., x_k]`` in one forward pass, which gives
``k + 1`` next-token distributions ``p_0..p_k`` (``p_i`` predicts the token after ``x_i``; ``x_0`` is the
last accepted token). Verification keeps a prefix of the draft and adds one token of the target's, so a
pass always yields between 1 and ``k + 1`` tokens:

* greedy (:func:`greedy_accept`): the longest prefix with ``x_{i+1} = argmax p_i``, then
  ``argmax p_n`` (the target's token where the draft first disagrees, or the bonus token after a fully
  accepted draft). The output is token for token that of greedy decoding.
* sampling (:func:`sampling_accept`, Leviathan et al., 2023; Chen et al., 2023): draft token ``x_{i+1}``
  drawn from ``q_i`` is accepted with probability ``min(1, p_i(x) / q_i(x))``; at the first rejection the
  emitted token is drawn from the residual ``max(0, p_i - q_i) / Z``; after a fully accepted draft from
  ``p_k``. Every emitted token is distributed exactly as sampling from the target
  (:func:`acceptance` exposes the probabilities so that the tests check this by enumeration). A
  deterministic draft (``draft_probs=None``: ``q_i`` one-hot on ``x_{i+1}``, as a copied span) accepts with
  probability ``p_i(x)`` and resamples from ``p_i`` with ``x`` removed.

:func:`crop_cache` rolls a key/value cache back to the accepted length after a rejection.

Continuous tokens (Wang et al., 2024, continuous speculative decoding) take the same step with densities:
:func:`density_sampling_accept` accepts ``x ~ q_i`` with probability ``min(1, p_i(x) / q_i(x))`` and
:func:`density_residual_sample` draws the replacement from ``max(0, p - q) / Z`` by acceptance-rejection
from ``p`` (keep ``x ~ p`` with probability ``max(0, 1 - q(x) / p(x))``); the distributions are any
:class:`Density` (``log_prob`` and ``sample`` over a batch of rows).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch


def _check(draft: torch.Tensor, target: torch.Tensor) -> None:
    if draft.dim() != 1 or target.dim() != 2 or target.shape[0] != draft.shape[0] + 1:
        raise ValueError(
            f"need a (k,) draft and (k + 1, V) target scores, got {tuple(draft.shape)} and "
            f"{tuple(target.shape)}"
        )


def _prefix_len(mask: torch.Tensor) -> int:
    """How many leading entries of the 1-d boolean ``mask`` are true (0 for an empty mask)."""
    return int(mask.long().cumprod(dim=0).sum())


def greedy_accept(draft: torch.Tensor, target_logits: torch.Tensor) -> tuple[int, int]:
    """Greedy verification of one draft.

    :param draft: ``(k,)`` proposed token ids (``k >= 0``).
    :param target_logits: ``(k + 1, V)`` target scores after ``[last, x_1..x_k]`` (any monotone
        transform of the logits: only the argmax is read; ties go to the lowest id, as in greedy search).
    :returns: ``(n, token)``: the first ``n`` draft tokens are accepted and ``token`` follows them.
    """
    _check(draft, target_logits)
    best = target_logits.argmax(dim=-1)
    n = _prefix_len(best[:-1] == draft.to(best.device))
    return n, int(best[n])


def residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``max(0, p - q)`` normalised over the last dimension; where it is all zero (``q >= p``
    everywhere, so ``p = q``: a rejection cannot happen) ``p`` itself."""
    r = (p - q).clamp_min(0)
    z = r.sum(dim=-1, keepdim=True)
    return torch.where(z > 0, r / torch.where(z > 0, z, torch.ones_like(z)), p)


def acceptance(
    draft: torch.Tensor, target_probs: torch.Tensor, draft_probs: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The probabilities that drive sampling verification.

    :param draft: ``(k,)`` proposed ids.
    :param target_probs: ``(k + 1, V)`` target distributions ``p_0..p_k``.
    :param draft_probs: ``(k, V)`` the distributions ``q_0..q_{k-1}`` the draft was drawn from;
        ``None``: a deterministic draft (one-hot ``q``).
    :returns: ``(accept, emit)``: ``accept`` ``(k,)`` with ``accept[i] = min(1, p_i(x_{i+1}) /
        q_i(x_{i+1}))``; ``emit`` ``(k + 1, V)``, the distribution of the target's token when the first
        ``n`` draft tokens are accepted: the residual of ``p_n`` and ``q_n`` for ``n < k``, ``p_k`` for
        ``n = k``.
    """
    _check(draft, target_probs)
    k = draft.shape[0]
    index = draft.to(target_probs.device).long()
    if draft_probs is None:
        draft_probs = torch.zeros_like(target_probs[:k]).scatter_(-1, index[:, None], 1.0)
    if draft_probs.shape != target_probs[:k].shape:
        raise ValueError(
            f"draft_probs must be {tuple(target_probs[:k].shape)}, got {tuple(draft_probs.shape)}"
        )
    p_x = target_probs[:k].gather(-1, index[:, None]).squeeze(-1)
    q_x = draft_probs.gather(-1, index[:, None]).squeeze(-1)
    if bool((q_x <= 0).any()):
        raise ValueError("a draft token has probability 0 under draft_probs: it cannot have been drawn")
    accept = (p_x / q_x).clamp(max=1.0)
    emit = torch.cat([residual(target_probs[:k], draft_probs), target_probs[k:]], dim=0)
    return accept, emit


def stop_probs(accept: torch.Tensor) -> torch.Tensor:
    """``(k + 1,)`` probability that exactly ``n`` draft tokens are accepted:
    ``prod_{i<n} accept_i * (1 - accept_n)`` (``accept_k = 0``: a full draft stops at ``k``)."""
    ones = torch.ones(1, dtype=accept.dtype, device=accept.device)
    reach = torch.cat([ones, accept.cumprod(dim=0)])
    return reach * (1 - torch.cat([accept, 0 * ones]))


def sampling_accept(
    draft: torch.Tensor,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[int, int]:
    """Sampling verification (speculative sampling) of one draft.

    Draws ``u_i ~ U(0, 1)`` and accepts while ``u_i < accept_i`` (:func:`acceptance`), then draws the
    target's token from ``emit[n]``. Arguments as :func:`acceptance`; ``generator`` seeds the draws.

    :returns: ``(n, token)`` as :func:`greedy_accept`.
    """
    accept, emit = acceptance(draft, target_probs, draft_probs)
    u = torch.rand(accept.shape, generator=generator, dtype=accept.dtype, device=accept.device)
    n = _prefix_len(u < accept)
    token = torch.multinomial(emit[n].float(), 1, generator=generator)
    return n, int(token)


def crop_cache(cache: Any, length: int) -> Any:
    """The cache cut back to its first ``length`` positions (the rollback after a rejected draft).

    Handles the kit's :class:`~paperzoo_tinylm.cache.KVCache` and transformers' ``DynamicCache`` (both
    have ``crop`` and ``get_seq_length``, applied in place; a cache already that short is unchanged) and nested tuples/lists of ``(B, H, T, D)`` tensors (a new nesting,
    sliced on dimension -2). Returns the cache to use next.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if hasattr(cache, "crop"):
        # crop(-n) drops the last n positions in the kit's cache and in every transformers version
        # (transformers 5 refuses a positive length; 4.x read one as the length to keep).
        extra = cache.get_seq_length() - length
        if extra > 0:
            cache.crop(-extra)
        return cache
    if isinstance(cache, torch.Tensor):
        return cache[..., :length, :]
    if isinstance(cache, (tuple, list)):
        return type(cache)(crop_cache(item, length) for item in cache)
    raise TypeError(f"cannot crop a cache of type {type(cache).__name__}")


# -- continuous tokens: the same step for densities (continuous speculative decoding) ------------------
class Density(Protocol):
    """A batch of ``B`` distributions over ``R^D`` (one per row): what the continuous step reads.

    ``log_prob(x)`` takes ``(B, D)`` points and returns ``(B,)`` log densities (``-inf`` outside the
    support); ``sample(generator)`` returns one ``(B, D)`` draw, row ``b`` from distribution ``b``.
    """

    def log_prob(self, x: torch.Tensor) -> torch.Tensor: ...

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor: ...


def density_acceptance(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``min(1, p(x) / q(x))`` from log densities at the draft points ``x ~ q`` (any shape).

    A point the draft could not have drawn (``log_q = -inf``) raises; ``log_p = -inf`` gives 0."""
    if bool((log_q == float("-inf")).any()) or bool(log_q.isnan().any()):
        raise ValueError("a draft point has density 0 (or NaN) under the draft: it cannot have been drawn")
    return (log_p - log_q).clamp(max=0.0).exp()


def density_sampling_accept(
    log_p: torch.Tensor, log_q: torch.Tensor, generator: torch.Generator | None = None
) -> int:
    """How many of the ``k`` draft points ``x_1..x_k`` (drawn from ``q_0..q_{k-1}``) are accepted.

    Draws ``u_i ~ U(0, 1)`` and accepts while ``u_i < min(1, p_i(x_{i+1}) / q_i(x_{i+1}))``, as
    :func:`sampling_accept` does for token ids. The caller then emits one token of the target's: from
    the residual of ``p_n`` and ``q_n`` (:func:`density_residual_sample`) when ``n < k``, else from
    ``p_k``.

    :param log_p: ``(k,)`` target log densities ``log p_i(x_{i+1})``.
    :param log_q: ``(k,)`` draft log densities ``log q_i(x_{i+1})``.
    """
    if log_p.shape != log_q.shape or log_p.dim() != 1:
        raise ValueError(
            f"need (k,) log densities of one shape, got {tuple(log_p.shape)}, {tuple(log_q.shape)}"
        )
    accept = density_acceptance(log_p, log_q)
    u = torch.rand(accept.shape, generator=generator, dtype=accept.dtype, device=accept.device)
    return _prefix_len(u < accept)


def residual_acceptance(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``max(0, 1 - q(x) / p(x))`` at points ``x ~ p``: the probability with which acceptance-rejection
    from ``p`` keeps a proposal, so that the kept points follow ``max(0, p - q) / Z``."""
    return (1 - (log_q - log_p).exp()).clamp_min(0.0)


def density_residual_sample(
    p: Density, q: Density, generator: torch.Generator | None = None, max_tries: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw per row from the residual ``max(0, p - q) / Z`` by acceptance-rejection from ``p``.

    Every round draws ``x ~ p`` for the rows still open and keeps it with probability
    :func:`residual_acceptance`; a proposal is kept with probability ``Z = TV(p, q)`` per round, so the
    expected number of rounds is ``1 / TV(p, q)`` (and 1 on average over the rejections that call this,
    since a rejection itself happens with probability ``TV(p, q)``). Rows still open after ``max_tries``
    rounds (``p`` and ``q`` nearly equal there) keep their last proposal, a draw from ``p``.

    :returns: ``(x, tries)``: ``(B, D)`` samples and ``(B,)`` rounds used per row.
    """
    if max_tries < 1:
        raise ValueError(f"max_tries must be >= 1, got {max_tries}")
    for round_ in range(max_tries):
        y = p.sample(generator)
        keep = torch.rand(y.shape[0], generator=generator, dtype=y.dtype, device=y.device) < (
            residual_acceptance(p.log_prob(y), q.log_prob(y))
        )
        if round_ == 0:  # every row is open
            x, open_ = y, torch.ones_like(keep)
            tries = torch.zeros(y.shape[0], dtype=torch.long, device=y.device)
        x = torch.where(open_[:, None], y, x)
        tries = tries + open_.long()
        open_ = open_ & ~keep
        if not bool(open_.any()):
            break
    return x, tries
