"""A synthetic long-sequence task that needs information from other groups: far lookup.

Each sequence holds ``n_keys`` (1 or 2) key tokens, each in a different group: key ``A`` carrying value
``a`` (token ``A_a``) and, with two keys, key ``B`` carrying value ``b`` (token ``B_b``), values in
``0..n_values-1``. Every other position holds a query token (``?A``, or ``?A``/``?B`` at random with two
keys) whose target is the value of that key: per-token classification. Key positions have no target
(-100). A query in a group holding no key can only be answered by reading another group: attention
confined to groups is at chance (``1 / n_values``) there.

Tokens: ``0..n_values-1`` are ``A_v``, ``n_values..2 n_values-1`` are ``B_v``, then ``?A`` and ``?B``.
"""

from __future__ import annotations

import torch

IGNORE = -100


def lookup_vocab(n_values: int) -> int:
    """Vocabulary size: ``A_v``, ``B_v`` and the queries ``?A``, ``?B``."""
    return 2 * n_values + 2


def far_lookup(
    n: int,
    seq_len: int,
    group_size: int,
    n_values: int = 8,
    n_keys: int = 2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(inputs [n, T], targets [n, T], far [n, T])``; ``far`` marks the targets that lie in a group
    holding no key (the cross-group positions the claim scores)."""
    g = seq_len // group_size
    if seq_len % group_size or g <= n_keys:
        raise ValueError(f"far_lookup needs more than n_keys={n_keys} groups of group_size={group_size}")
    if n_keys not in (1, 2):
        raise ValueError(f"n_keys: got {n_keys!r}; accepted: 1 (key A only) or 2")
    ask_a, ask_b = 2 * n_values, 2 * n_values + 1
    rows = torch.arange(n)
    asks_b = torch.rand(n, seq_len, generator=generator) < (0.5 if n_keys == 2 else 0.0)
    inputs = torch.where(asks_b, ask_b, ask_a)
    values = torch.randint(n_values, (n, 2), generator=generator)
    targets = torch.where(asks_b, values[:, 1:], values[:, :1]).clone()
    groups = torch.rand(n, g, generator=generator).argsort(1)[:, :n_keys]  # distinct groups per row
    where = groups * group_size + torch.randint(group_size, (n, n_keys), generator=generator)
    far = torch.ones(n, g, dtype=torch.bool)
    far[rows[:, None], groups] = False
    for j in range(n_keys):
        inputs[rows, where[:, j]] = values[:, j] + j * n_values
        targets[rows, where[:, j]] = IGNORE
    return inputs, targets, far.repeat_interleave(group_size, 1) & (targets != IGNORE)
