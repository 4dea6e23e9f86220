"""The output-set loss of "Order Matters" (section 5): train on the best ordering of each target.

When the target is a set, no ordering of it is given; the chain rule can model any of them, and some
are much easier to learn. The paper's loss is ``- max_pi log p(pi(Y) | X)`` over the orderings ``pi``
of the target ``Y``. Enumerating all ``|Y|!`` orderings is infeasible, so at each training step a few
candidate orderings are found (sampled from the model's own distribution, restricted to the target's
elements, and/or drawn uniformly), each is scored by the model's log-probability, and the loss is the
ordinary teacher-forced pointer loss of the highest-scoring candidate. The paper starts training with
orderings drawn uniformly (its "uniform prior" pretraining) so that the model does not lock onto the
first ordering it happens to favour.

Orderings permute the target's elements: every entry that is a position of the input (not the stop
position ``n`` of an ``eos`` model, not ``IGNORE`` padding); those entries must come first in each row.
"""

from __future__ import annotations

import itertools

import torch
from paperzoo_pointer_networks.model import PointerNet, pointer_loss, sequence_log_prob


def permutable_lengths(targets: torch.Tensor, stop: int) -> torch.Tensor:
    """(B,) the number of leading entries of each target row that are input positions (neither the stop
    position ``stop`` nor negative padding); raises ``ValueError`` if such entries are not a prefix."""
    real = (targets >= 0) & (targets != stop)
    lengths = real.sum(1)
    prefix = torch.arange(targets.shape[1], device=targets.device) < lengths.unsqueeze(1)
    if not torch.equal(real, prefix):
        raise ValueError("targets: the input positions of each row must come before the stop and padding")
    return lengths


def uniform_orderings(
    targets: torch.Tensor, count: int, stop: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(count, B, T): ``count`` orderings of each target drawn uniformly (the permutable prefix is
    shuffled; the stop and padding stay in place)."""
    b, t = targets.shape
    lengths = permutable_lengths(targets, stop)
    j = torch.arange(t, device=targets.device)
    keys = torch.rand(count, b, t, generator=generator, device=targets.device)
    keys = torch.where(j < lengths.unsqueeze(1), keys, 1.0 + j.to(keys.dtype))  # beyond the prefix: kept
    return torch.gather(targets.expand(count, b, t), 2, keys.argsort(-1))


def all_orderings(targets: torch.Tensor, stop: int) -> torch.Tensor:
    """(L!, B, T): every ordering of the targets' permutable prefix, which must have the same length
    ``L`` in every row (an exhaustive search, for small ``L``)."""
    lengths = permutable_lengths(targets, stop)
    if len(lengths) and not bool((lengths == lengths[0]).all()):
        raise ValueError("targets: an exhaustive search needs the same number of elements in every row")
    size = int(lengths[0]) if len(lengths) else 0
    rest = list(range(size, targets.shape[1]))
    orders = [list(p) + rest for p in itertools.permutations(range(size))]
    return targets[:, torch.tensor(orders, device=targets.device)].permute(1, 0, 2)


@torch.no_grad()
def sampled_orderings(
    model: PointerNet,
    x: torch.Tensor,
    targets: torch.Tensor,
    count: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(count, B, T): ``count`` orderings of each target sampled from the model, ancestrally, each step
    restricted to the target's elements not yet used (so every sample is an ordering of the target)."""
    b, t = targets.shape
    stop = x.shape[1] if model.eos else -1
    lengths = permutable_lengths(targets, stop).repeat(count)
    ys = targets.repeat(count, 1)
    encoded = model.encode(x.repeat(count, 1, 1))
    n_pos = encoded.keys.shape[1]
    in_prefix = torch.arange(t, device=x.device) < lengths.unsqueeze(1)
    allowed = torch.zeros(count * b, n_pos + 1, dtype=torch.bool, device=x.device)
    allowed.scatter_(1, torch.where(in_prefix, ys, n_pos), True)  # the rest lands in a spare column
    allowed = allowed[:, :n_pos]
    out, state, prev = ys.clone(), encoded.state, None
    for step in range(int(lengths.max()) if len(lengths) else 0):
        active = step < lengths
        mask = ~allowed & active.unsqueeze(1)  # finished rows: nothing masked (their output is unused)
        logp, state = model.step(encoded, prev, state, mask)
        pick = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        pick = torch.where(active, pick, ys[:, step].clamp(min=0))
        out[:, step] = torch.where(active, pick, out[:, step])
        allowed = torch.where(active.unsqueeze(1), allowed.scatter(1, pick.unsqueeze(1), False), allowed)
        prev = pick
    return out.reshape(count, b, t)


@torch.no_grad()
def best_ordering(
    model: PointerNet, x: torch.Tensor, candidates: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The highest-scoring candidate of each example (B, T), and every candidate's score
    ``log p(candidate | x)`` (K, B), for candidates (K, B, T). Ties go to the first candidate."""
    k, b, t = candidates.shape
    scores = sequence_log_prob(model, x.repeat(k, 1, 1), candidates.reshape(k * b, t)).reshape(k, b)
    best = scores.argmax(0)
    return candidates[best, torch.arange(b, device=x.device)], scores


def order_search_loss(model: PointerNet, x: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """The pointer loss (mean NLL per step) of the best of ``candidates`` (K, B, T) for each example:
    the search is not differentiated; the gradient is that of the chosen ordering's likelihood."""
    chosen, _ = best_ordering(model, x, candidates)
    return pointer_loss(model(x, targets=chosen), chosen)
