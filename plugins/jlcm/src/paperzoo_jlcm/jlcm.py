"""JLCM on one weight matrix: row grouping, k-means codebooks, joint codebook/mapping learning.

A weight ``W [out, in]`` is split into ``n_groups`` groups of similarly distributed rows (neurons): the
rows are sorted by their standard deviation and cut into contiguous groups of (nearly) equal size. Each
group ``g`` gets a sorted codebook ``C[g]`` of ``2^bits`` values initialised by 1-D k-means (Lloyd, from
evenly spaced quantiles) on the group's weights; every weight is mapped to an index ``a`` of its group's
codebook, so the quantised weight ``Q = C[g(row), a]`` holds at most ``2^bits`` values per group.

Joint learning minimises the layer's output reconstruction error
``tr((Q - W) H (Q - W)^T) / out`` with ``H = X^T X / N`` from calibration inputs ``X`` (``H = I``
without data: plain weight error). The codebook values get their exact gradient (through the gather);
the mapping gets the proximal straight-through gradient: a latent continuous weight ``V`` (initialised
to ``W``) receives the gradient of ``Q`` (straight through), and after each step an assignment may only
move to a neighbouring codeword (``a - 1``, ``a``, ``a + 1`` of the sorted codebook), the one nearest
``V``. Parameters are learned in units of each group's standard deviation (Adam), and the best state
seen (initial k-means state included) is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Codebooks:
    """A quantised matrix: ``codebook [G, K]`` (sorted per group), ``codes [out, in]`` (indices into the
    row's group codebook), ``groups [out]`` (each row's group)."""

    codebook: torch.Tensor
    codes: torch.Tensor
    groups: torch.Tensor

    def weight(self) -> torch.Tensor:
        """The quantised weight ``Q[i, j] = codebook[groups[i], codes[i, j]]``."""
        return torch.gather(self.codebook[self.groups], 1, self.codes)


def group_rows(weight: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(perm, groups)``: ``perm`` sorts the rows by standard deviation (ties: the lower index);
    ``groups[i]`` is row ``i``'s group, the position of row ``i`` in that order cut into ``n_groups``
    contiguous chunks of (nearly) equal size. Reordering rows (and the next layer's inputs) by ``perm``
    makes every group contiguous: no per-row group index is stored."""
    out = weight.shape[0]
    if not 1 <= n_groups <= out:
        raise ValueError(f"n_groups {n_groups}; accepted: 1 to the number of rows ({out})")
    perm = torch.sort(weight.double().std(1), stable=True).indices
    position_group = torch.arange(out, device=weight.device) * n_groups // out
    groups = torch.empty(out, dtype=torch.long, device=weight.device)
    groups[perm] = position_group
    return perm, groups


def kmeans_1d(x: torch.Tensor, init: torch.Tensor, max_iter: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means of the values ``x`` from the centres ``init [K]``: ``(centres, labels)``. Iterates
    until the labels no longer change (or ``max_iter``); an empty cluster keeps its centre; a tie goes to
    the lower centre index (as scikit-learn's ``KMeans(init=..., n_init=1, algorithm="lloyd")``)."""
    x = x.reshape(-1)
    centres = init.to(x.dtype).clone()
    labels = (x[:, None] - centres[None]).abs().argmin(1)
    for _ in range(max_iter):
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        counts = torch.zeros_like(centres).index_add_(0, labels, torch.ones_like(x))
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        new = (x[:, None] - centres[None]).abs().argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return centres, labels


def quantile_init(x: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` evenly spaced quantiles ``(i + 1/2) / k`` of ``x``: the k-means initialisation."""
    q = (torch.arange(k, dtype=torch.float64) + 0.5) / k
    return torch.quantile(x.reshape(-1).double(), q.to(x.device)).to(x.dtype)


def kmeans_codebooks(weight: torch.Tensor, groups: torch.Tensor, bits: int, max_iter: int = 300) -> Codebooks:
    """A ``2^bits`` codebook per group by 1-D k-means of the group's weights (sorted)."""
    k = 2**bits
    n_groups = int(groups.max()) + 1
    codebook = torch.empty(n_groups, k, dtype=weight.dtype, device=weight.device)
    codes = torch.empty(weight.shape, dtype=torch.long, device=weight.device)
    for g in range(n_groups):
        rows = groups == g
        centres, labels = kmeans_1d(weight[rows], quantile_init(weight[rows], k), max_iter)
        order = torch.argsort(centres, stable=True)
        codebook[g] = centres[order]
        codes[rows] = torch.argsort(order)[labels].reshape(-1, weight.shape[1])
    return Codebooks(codebook, codes, groups)


def reconstruction_error(q: torch.Tensor, weight: torch.Tensor, hessian: torch.Tensor | None) -> torch.Tensor:
    """``tr((Q - W) H (Q - W)^T) / out`` (``H = X^T X / N``: the mean squared output error per output
    feature on the calibration inputs); ``sum((Q - W)^2) / out`` when ``hessian`` is None."""
    d = q - weight
    if hessian is None:
        return d.square().sum() / d.shape[0]
    return ((d @ hessian) * d).sum() / d.shape[0]


def _sort_codebooks(codebook: torch.Tensor, codes: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Sort each group's codebook in place, remapping ``codes`` in place; returns the codebook."""
    order = torch.argsort(codebook, dim=1, stable=True)
    inverse = torch.argsort(order, dim=1)
    codebook.copy_(torch.gather(codebook, 1, order))
    codes.copy_(torch.gather(inverse[groups], 1, codes))
    return codebook


def jlcm_learn(
    weight: torch.Tensor,
    init: Codebooks,
    hessian: torch.Tensor | None = None,
    steps: int = 100,
    lr: float = 1e-2,
) -> tuple[Codebooks, list[float]]:
    """Joint learning of codebook values and mappings from ``init`` (see the module docstring). Returns
    the best state (lowest reconstruction error, the init included) and the error of every step (the
    init's first)."""
    w = weight.double()
    h = None if hessian is None else hessian.double()
    groups = init.groups
    sigma = torch.stack([w[groups == g].std() for g in range(init.codebook.shape[0])]).clamp_min(1e-12)
    codebook_n = (init.codebook.double() / sigma[:, None]).clone().requires_grad_(True)
    latent_n = (w / sigma[groups, None]).clone().requires_grad_(True)
    codes = init.codes.clone()
    opt = torch.optim.Adam([codebook_n, latent_n], lr=lr)
    k = init.codebook.shape[1]
    best = Codebooks(init.codebook.clone(), codes.clone(), groups)
    history = [float(reconstruction_error(best.weight().double(), w, h))]
    for _ in range(steps):
        row_scale = sigma[groups, None]
        q_n = torch.gather(codebook_n[groups], 1, codes)
        q_n = q_n + latent_n - latent_n.detach()  # value Q; gradient to codebook (gather) and latent (STE)
        loss = reconstruction_error(q_n * row_scale, w, h)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            _sort_codebooks(codebook_n, codes, groups)
            table = codebook_n[groups]
            candidates = torch.stack([(codes - 1).clamp_min(0), codes, (codes + 1).clamp_max(k - 1)])
            values = torch.gather(table[None].expand(3, -1, -1), 2, candidates)
            pick = (values - latent_n[None]).abs().argmin(0, keepdim=True)  # ties: the current codeword side
            codes = torch.gather(candidates, 0, pick)[0]
            state = Codebooks((codebook_n * sigma[:, None]).to(weight.dtype), codes.clone(), groups)
            err = float(reconstruction_error(state.weight().double(), w, h))
            history.append(err)
            if err < min(history[:-1]):
                best = Codebooks(state.codebook.clone(), state.codes.clone(), groups)
    return best, history


def jlcm_quantize_weight(
    weight: torch.Tensor,
    bits: int,
    n_groups: int,
    hessian: torch.Tensor | None = None,
    steps: int = 100,
    lr: float = 1e-2,
) -> Codebooks:
    """Group the rows, k-means each group's codebook, then learn codebooks and mappings jointly
    (``steps = 0``: the k-means codebooks alone)."""
    _, groups = group_rows(weight, n_groups)
    init = kmeans_codebooks(weight.detach(), groups, bits)
    if steps == 0:
        return init
    return jlcm_learn(weight.detach(), init, hessian, steps, lr)[0]
