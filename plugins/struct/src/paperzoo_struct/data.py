"""A synthetic CTR dataset with a planted interaction: a click depends on how similar the candidate item is
to the single most similar item in the user's behaviour sequence.

Items fall into categories; item ``j`` has a unit latent vector ``v_j`` near its category's centre. A user
has two interest categories; a behaviour sequence of random length mixes items of those categories with
random items, padded with ``0`` at the end. The candidate is an item of an interest category or a random
item (half each). The true click probability is
``sigmoid(signal * (max_i cos(v_candidate, v_{h_i}) - threshold))`` over the real behaviours ``h_i``: one past
item decides it, so pooling the sequence into one sum blurs the signal that attending to that item keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo.data import DataBundle, split
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset


@dataclass
class PlantedCTR:
    """Packed inputs ``x (N, 3 + max_len)`` = ``[user, item, category, behaviours...]``, labels ``y (N,)``,
    the true click probabilities ``p (N,)`` and the ids per field ``vocab_sizes``."""

    x: torch.Tensor
    y: torch.Tensor
    p: torch.Tensor
    vocab_sizes: list[int]


def _check(n_samples: int, n_users: int, n_items: int, n_categories: int, min_len: int, max_len: int) -> None:
    for name, value in (("n_users", n_users), ("n_categories", n_categories), ("min_len", min_len)):
        if value < 1:
            raise ParamError(name, f"got {value}; accepted: at least 1")
    if n_samples < 2:
        raise ParamError("n_samples", f"got {n_samples}; accepted: at least 2")
    if n_items < n_categories:
        raise ParamError("n_items", f"got {n_items}; accepted: at least n_categories ({n_categories})")
    if max_len < min_len:
        raise ParamError("max_len", f"got {max_len}; accepted: at least min_len ({min_len})")


def generate(
    n_samples: int = 8192,
    n_users: int = 500,
    n_items: int = 400,
    n_categories: int = 20,
    min_len: int = 2,
    max_len: int = 12,
    latent_dim: int = 8,
    spread: float = 0.5,
    signal: float = 6.0,
    threshold: float = 0.6,
    seed: int = 0,
) -> PlantedCTR:
    """Draw the planted-interaction data (see the module docstring); deterministic for a seed."""
    _check(n_samples, n_users, n_items, n_categories, min_len, max_len)
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_categories, latent_dim, generator=g)
    item_cat = torch.arange(n_items) % n_categories  # item id j (1-based) has category item_cat[j - 1]
    vecs = centres[item_cat] + spread * torch.randn(n_items, latent_dim, generator=g)
    vecs = vecs / vecs.norm(dim=-1, keepdim=True)
    items_of = [torch.nonzero(item_cat == c).squeeze(-1) for c in range(n_categories)]
    per_cat = min(len(i) for i in items_of)
    table = torch.stack([i[:per_cat] for i in items_of])  # (C, per_cat) item indices of each category
    interests = torch.randint(n_categories, (n_users, 2), generator=g)

    user = torch.randint(n_users, (n_samples,), generator=g)
    lengths = torch.randint(min_len, max_len + 1, (n_samples,), generator=g)

    def draw(shape: tuple[int, ...], p_interest: float) -> torch.Tensor:
        """0-based item indices: an item of one of the user's two interests with ``p_interest``, else any."""
        rows = torch.arange(n_samples).view(-1, *([1] * (len(shape) - 1)))
        cats = interests[user][rows, torch.randint(2, shape, generator=g)]
        themed = table[cats, torch.randint(per_cat, shape, generator=g)]
        rand = torch.randint(n_items, shape, generator=g)
        return torch.where(torch.rand(shape, generator=g) < p_interest, themed, rand)

    hist = draw((n_samples, max_len), 0.5)  # 0-based item indices
    cand = draw((n_samples,), 0.5)
    valid = torch.arange(max_len)[None, :] < lengths[:, None]
    sims = (vecs[hist] * vecs[cand][:, None, :]).sum(-1).masked_fill(~valid, -2.0)
    p = torch.sigmoid(signal * (sims.max(dim=1).values - threshold))
    y = (torch.rand(n_samples, generator=g) < p).long()
    x = torch.cat(
        [
            (user + 1)[:, None],
            (cand + 1)[:, None],
            (item_cat[cand] + 1)[:, None],
            torch.where(valid, hist + 1, 0),
        ],
        dim=1,
    )
    return PlantedCTR(x, y, p, [n_users, n_items, n_categories])


def planted_ctr(
    n_samples: int = 8192,
    n_users: int = 500,
    n_items: int = 400,
    n_categories: int = 20,
    min_len: int = 2,
    max_len: int = 12,
    signal: float = 6.0,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> DataBundle:
    """The planted-interaction CTR data as a 2-class task: inputs are packed ids
    ``[user, item, category, behaviours...]`` (``3 + max_len`` columns, ``0`` = padding), targets 0/1."""
    if not 0.0 < val_fraction < 1.0:
        raise ParamError("val_fraction", f"got {val_fraction}; accepted: a fraction strictly between 0 and 1")
    d = generate(n_samples, n_users, n_items, n_categories, min_len, max_len, signal=signal, seed=seed)
    train_idx, val_idx = split(n_samples, val_fraction, seed)
    return DataBundle(
        TensorDataset(d.x[train_idx], d.y[train_idx]),
        TensorDataset(d.x[val_idx], d.y[val_idx]),
        task="classification",
        num_classes=2,
        input_shape=(3 + max_len,),
        name="struct_planted_ctr",
    )
