"""TIES-Merging and task arithmetic on task vectors (Yadav et al., 2023, arXiv:2306.01708).

A task vector is the difference between a fine-tuned model and the model it was fine-tuned from,
``tau_t = theta_t - theta_0`` (Sec. 2). Given ``n`` task vectors, TIES-Merging (Sec. 4, Alg. 1):

1. **Trim**: keep the top-``k`` fraction of each ``tau_t`` by magnitude, zero the rest
   (``tau_hat_t``; the paper's ``k = 20%``).
2. **Elect**: per parameter ``p``, ``gamma_m^p = sgn(sum_t tau_hat_t^p)``.
3. **Disjoint merge**: ``tau_m^p = 1/|A^p| sum_{t in A^p} tau_hat_t^p`` with
   ``A^p = {t : sgn(tau_hat_t^p) = gamma_m^p}``.
4. ``theta_m = theta_0 + lambda * tau_m``.

Task arithmetic (Ilharco et al., 2023), the paper's main baseline: ``theta_m = theta_0 + lambda *
sum_t tau_t``.

Task vectors can be passed as one stacked tensor ``(n_tasks, ...)``, as a sequence of equally shaped
tensors, or as a sequence of state-dict-like mappings ``{name: tensor}`` with the same keys. With
mappings, ``scope="model"`` trims over the whole flattened task vector (the paper and its official
code) and ``scope="tensor"`` trims every tensor separately (what ``peft.utils.merge_utils.ties``
does when called per weight).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Union

import torch

TaskVectors = Union[torch.Tensor, Sequence[torch.Tensor], Sequence[Mapping[str, torch.Tensor]]]
Scope = Literal["model", "tensor"]


@dataclass(frozen=True)
class Layout:
    """How rows of a stacked ``(n_tasks, d)`` matrix map back to the caller's structure.

    Mapping entries are laid out sorted by ``(numel, name)`` so that tensors of one size are
    adjacent: per-tensor trimming then runs one ``kthvalue`` per distinct size, on a reshaped view.
    """

    names: tuple[str, ...] | None  # None: plain tensors of shape ``shapes[0]``
    shapes: tuple[torch.Size, ...]
    dtypes: tuple[torch.dtype, ...]

    @property
    def numels(self) -> list[int]:
        return [s.numel() for s in self.shapes]

    def segments(self, scope: Scope) -> list[tuple[int, int, int]]:
        """``(start, count, numel)``: runs of ``count`` adjacent tensors of ``numel`` entries each
        that are trimmed separately; one run covering everything for ``scope="model"``."""
        numels = self.numels
        if scope == "model" or self.names is None:
            return [(0, 1, sum(numels))]
        runs: list[tuple[int, int, int]] = []
        start = 0
        for n in numels:
            if runs and runs[-1][2] == n:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1, n)
            else:
                runs.append((start, 1, n))
            start += n
        return runs

    def unflatten(self, vector: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        """The merged ``(d,)`` vector in the caller's structure and dtypes."""
        if self.names is None:
            return vector.view(self.shapes[0]).to(self.dtypes[0])
        pieces = vector.split(self.numels)
        return {n: p.view(s).to(dt) for n, p, s, dt in zip(self.names, pieces, self.shapes, self.dtypes)}


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Sums of half-precision task vectors are accumulated in float32 at least."""
    return torch.promote_types(dtype, torch.float32)


def flatten(task_vectors: TaskVectors) -> tuple[torch.Tensor, Layout]:
    """A fresh ``(n_tasks, d)`` matrix (the callers' tensors are never modified) and its layout."""
    if isinstance(task_vectors, torch.Tensor):
        if task_vectors.dim() < 2:
            raise ValueError("a stacked tensor of task vectors has shape (n_tasks, ...)")
        dtype = task_vectors.dtype
        matrix = task_vectors.reshape(len(task_vectors), -1).to(_compute_dtype(dtype), copy=True)
        return matrix, Layout(None, (task_vectors.shape[1:],), (dtype,))
    vectors = list(task_vectors)
    if not vectors:
        raise ValueError("no task vectors to merge")
    if isinstance(vectors[0], torch.Tensor):
        return flatten(torch.stack(vectors))
    names = sorted(vectors[0], key=lambda n: (vectors[0][n].numel(), n))
    for tv in vectors[1:]:
        if set(tv) != set(names):
            raise ValueError(f"task vectors have different keys: {sorted(set(tv) ^ set(names))}")
    first = vectors[0]
    dtypes = tuple(first[n].dtype for n in names)
    compute = _compute_dtype(functools.reduce(torch.promote_types, dtypes))
    d = sum(first[n].numel() for n in names)
    matrix = torch.empty(len(vectors), d, dtype=compute, device=first[names[0]].device)
    for row, tv in zip(matrix, vectors):  # one concatenation per task, written in place
        torch.cat([tv[n].reshape(-1).to(compute) for n in names], out=row)
    return matrix, Layout(tuple(names), tuple(first[n].shape for n in names), dtypes)


# -- the three steps, in place on a stacked (n_tasks, d) matrix ------------------------------------
def trim_(matrix: torch.Tensor, k: float, segments: list[tuple[int, int, int]] | None = None) -> torch.Tensor:
    """Step 1 (Trim), in place: in every row and segment keep the ``floor(k * numel)`` entries of
    largest magnitude (``|tau| >= `` the ``floor(k * numel)``-th largest ``|tau|``, so entries tied
    at the threshold are all kept), and zero the rest."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k is the kept fraction, in (0, 1]; got {k}")
    n_tasks, d = matrix.shape
    magnitude = matrix.abs()
    for start, count, numel in segments or [(0, 1, d)]:  # one kthvalue per distinct tensor size
        keep = int(k * numel)
        if keep >= numel:
            continue
        block = matrix[:, start : start + count * numel].view(n_tasks, count, numel)
        if keep == 0:
            block.zero_()
            continue
        mags = magnitude[:, start : start + count * numel].view(n_tasks, count, numel)
        threshold = mags.kthvalue(numel - keep + 1, dim=-1, keepdim=True).values
        block.masked_fill_(mags < threshold, 0.0)
    return matrix


def elect_sign(trimmed: torch.Tensor) -> torch.Tensor:
    """Step 2 (Elect): ``gamma_m = sgn(sum_t tau_hat_t)`` per parameter (the sign of the larger total
    mass). Where the sum is exactly zero the official code uses the majority of the elected signs,
    ``sgn(sum_p gamma_m^p)``; so does this."""
    sign = trimmed.sum(dim=0).sign()
    majority = sign.sum().sign()
    return torch.where(sign == 0, majority, sign)


def disjoint_mean_(trimmed: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """Step 3 (Disjoint merge), consuming ``trimmed``: the mean over tasks of the entries whose
    sign equals the elected sign, ``1/|A^p| sum_{t in A^p} tau_hat_t^p`` (0 where ``A^p`` is empty)."""
    agree = torch.where(sign > 0, trimmed > 0, trimmed < 0)
    count = agree.sum(dim=0).clamp_min_(1)
    return trimmed.masked_fill_(~agree, 0.0).sum(dim=0).div_(count)


# -- public merges ---------------------------------------------------------------------------------
def ties_merge(task_vectors: TaskVectors, k: float = 0.2, lam: float = 1.0, scope: Scope = "model"):
    """``lambda * tau_m``: the TIES-merged task vector, scaled (add it to ``theta_0``).

    :param task_vectors: ``(n_tasks, ...)`` tensor, sequence of tensors, or sequence of mappings.
    :param k: fraction of entries kept by the trim step (the paper's top-``k``% as a fraction: 0.2).
    :param lam: the scaling ``lambda`` of ``theta_m = theta_0 + lambda * tau_m``.
    :param scope: ``model`` trims over the whole flattened task vector (paper, official code);
        ``tensor`` trims every tensor of a mapping separately (PEFT's per-weight use).
    :returns: a tensor shaped like one task vector, or a dict for mapping inputs.
    """
    if scope not in ("model", "tensor"):
        raise ValueError(f"scope must be 'model' or 'tensor', got {scope!r}")
    matrix, layout = flatten(task_vectors)
    trim_(matrix, k, layout.segments(scope))
    merged = disjoint_mean_(matrix, elect_sign(matrix))
    return layout.unflatten(merged.mul_(lam))


def task_arithmetic(task_vectors: TaskVectors, lam: float = 1.0):
    """``lambda * sum_t tau_t`` (task arithmetic, the paper's baseline; add it to ``theta_0``)."""
    if isinstance(task_vectors, torch.Tensor):
        dtype = task_vectors.dtype
        return task_vectors.sum(dim=0, dtype=_compute_dtype(dtype)).mul_(lam).to(dtype)
    vectors = list(task_vectors)
    if not vectors:
        raise ValueError("no task vectors to merge")
    if isinstance(vectors[0], torch.Tensor):
        return task_arithmetic(torch.stack(vectors), lam)
    names = list(vectors[0])
    dtypes = [vectors[0][n].dtype for n in names]
    total = [vectors[0][n].to(_compute_dtype(dt), copy=True) for n, dt in zip(names, dtypes)]
    for tv in vectors[1:]:
        torch._foreach_add_(total, [tv[n] for n in names])
    torch._foreach_mul_(total, lam)
    return {n: t.to(dt) for n, t, dt in zip(names, total, dtypes)}


# -- state dicts -----------------------------------------------------------------------------------
Method = Literal["ties", "task_arithmetic"]


def mergeable_keys(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Floating-point entries, each storage once (tied weights such as shared embeddings would
    otherwise be counted twice by the global trim; the official code removes them the same way)."""
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    keys = []
    for name, value in state.items():
        if not value.is_floating_point():
            continue
        ident = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
        if value.numel() and ident in seen:
            continue
        seen.add(ident)
        keys.append(name)
    return keys


def task_vectors_of(
    base: Mapping[str, torch.Tensor], finetuned: Sequence[Mapping[str, torch.Tensor]], keys: Sequence[str]
) -> list[dict[str, torch.Tensor]]:
    """``tau_t = theta_t - theta_0`` for every fine-tuned state, over ``keys``."""
    base_values = [base[n] for n in keys]
    out = []
    for state in finetuned:
        missing = [n for n in keys if n not in state]
        if missing:
            raise KeyError(f"a fine-tuned state lacks {missing[:5]}")
        values = [state[n].to(device=b.device, dtype=b.dtype) for n, b in zip(keys, base_values)]
        out.append(dict(zip(keys, torch._foreach_sub(values, base_values))))
    return out


def merge_state_dicts(
    base: Mapping[str, torch.Tensor],
    finetuned: Sequence[Mapping[str, torch.Tensor]],
    method: Method = "ties",
    k: float = 0.2,
    lam: float = 1.0,
    scope: Scope = "model",
) -> dict[str, torch.Tensor]:
    """``theta_m = theta_0 + lambda * merge(tau_1..tau_n)`` as a state dict; entries that are not
    floating point (e.g. BatchNorm's step counter) are taken from ``base``."""
    keys = mergeable_keys(base)
    delta = merged_task_vector(task_vectors_of(base, finetuned, keys), method, k, lam, scope)
    out = {n: v.clone() for n, v in base.items()}
    values = [out[n] for n in keys]
    torch._foreach_add_(values, [delta[n] for n in keys])
    return out


def merged_task_vector(
    task_vectors: Sequence[Mapping[str, torch.Tensor]], method: Method, k: float, lam: float, scope: Scope
) -> dict[str, torch.Tensor]:
    """``lambda * tau_m`` by ``method``."""
    if method == "ties":
        return ties_merge(task_vectors, k=k, lam=lam, scope=scope)
    if method == "task_arithmetic":
        return task_arithmetic(task_vectors, lam=lam)
    raise ValueError(f"method must be 'ties' or 'task_arithmetic', got {method!r}")
