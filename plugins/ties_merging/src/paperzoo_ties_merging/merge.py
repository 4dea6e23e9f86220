"""TIES-Merging and task arithmetic on task vectors (Yadav et al., 2023, arXiv:2306.01708).

A task vector is the difference between a fine-tuned model and the model it was fine-tuned from,
``tau_t = theta_t - theta_0`` (Sec. 2). Given ``n`` task vectors, TIES-Merging (Sec. 4, Alg. 1):

1. **Trim**: keep the top-``k`` fraction of each ``tau_t`` by magnitude, zero the rest
   (``tau_hat_t``; the paper's ``k = 20%``).
2. **Elect**: per parameter ``p``, ``gamma_m^p = sgn(sum_t tau_hat_t^p)``.
3. **Disjoint merge**: ``tau_m^p = 1/|A^p| sum_{t in A^p} tau_hat_t^p`` with
   ``A^p = {t : sgn(tau_hat_t^p) = gamma_m^p}``.
4. ``theta_m = theta_0 + lambda * tau_m``.

Two options of PEFT's ``ties`` (``peft.utils.merge_utils``) are offered too, off by default:
per-task ``weights`` ``w_t`` scale the entries averaged in step 3,
``tau_m^p = 1/|A^p| sum_{t in A^p} w_t tau_hat_t^p``, while steps 1-2 and ``A^p`` use the unweighted
task vectors (where PEFT applies them); ``majority_sign_method="frequency"`` elects
``gamma_m^p = sgn(sum_t sgn(tau_hat_t^p))`` (more tasks, not more mass) instead of the paper's
``"total"``.

Task arithmetic (Ilharco et al., 2023), the paper's main baseline: ``theta_m = theta_0 + lambda *
sum_t tau_t``.

Task vectors can be passed as one stacked tensor ``(n_tasks, ...)``, as a sequence of equally shaped
tensors, or as a sequence of state-dict-like mappings ``{name: tensor}`` with the same keys (a mapping
may compute its values on access, see :func:`task_vectors_of`). With mappings, ``scope="model"``
trims over the whole flattened task vector (the paper and its official code) and ``scope="tensor"``
trims every tensor separately (what ``peft.utils.merge_utils.ties`` does when called per weight).

Memory: steps 2-4 are element-wise, so a merge runs one parameter tensor at a time on an
``(n_tasks, numel)`` block; only the model-scope trim threshold needs a whole task vector, one task
at a time (the flattened vector, its magnitudes and the threshold search's workspace: about three
flattened task vectors beyond the inputs and the output, measured with 3 tasks).
``scope="tensor"`` needs only per-tensor blocks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, Union

import torch

TaskVectors = Union[torch.Tensor, Sequence[torch.Tensor], Sequence[Mapping[str, torch.Tensor]]]
Scope = Literal["model", "tensor"]
Method = Literal["ties", "task_arithmetic"]
SignMethod = Literal["total", "frequency"]
Weights = Union[Sequence[float], torch.Tensor, None]
SIGN_METHODS = ("total", "frequency")


def _compute_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """Sums of half-precision task vectors are accumulated in float32 at least."""
    return torch.promote_types(functools.reduce(torch.promote_types, dtypes), torch.float32)


class _Blocks:
    """Task vectors as named ``(n_tasks, numel)`` blocks, built on demand in the compute dtype."""

    def __init__(self, task_vectors: TaskVectors):
        if not isinstance(task_vectors, torch.Tensor):
            task_vectors = list(task_vectors)
            if not task_vectors:
                raise ValueError("no task vectors to merge")
            if isinstance(task_vectors[0], torch.Tensor):
                task_vectors = torch.stack(task_vectors)
        if isinstance(task_vectors, torch.Tensor):
            if task_vectors.dim() < 2:
                raise ValueError("a stacked tensor of task vectors has shape (n_tasks, ...)")
            self.stacked, self.maps = task_vectors, None
            self.names: list[str] = [""]
            self.n_tasks = len(task_vectors)
            self.shapes = {"": task_vectors.shape[1:]}
            self.dtypes = {"": task_vectors.dtype}
        else:
            first, names = task_vectors[0], list(task_vectors[0])
            for tv in task_vectors[1:]:
                if set(tv) != set(names):
                    raise ValueError(f"task vectors have different keys: {sorted(set(tv) ^ set(names))}")
            self.stacked, self.maps, self.names, self.n_tasks = None, task_vectors, names, len(task_vectors)
            self.shapes = {n: first[n].shape for n in names}
            self.dtypes = {n: first[n].dtype for n in names}
        self.compute = _compute_dtype(*self.dtypes.values())

    def block(self, name: str) -> torch.Tensor:
        """A fresh ``(n_tasks, numel)`` copy of tensor ``name`` of every task vector."""
        if self.maps is None:
            return self.stacked.reshape(self.n_tasks, -1).to(self.compute, copy=True)
        return torch.stack([tv[name].reshape(-1).to(self.compute) for tv in self.maps])

    def rows(self) -> Iterator[torch.Tensor]:
        """Each whole task vector flattened, a fresh copy, one task at a time."""
        for t in range(self.n_tasks):
            if self.maps is None:
                yield self.stacked[t].reshape(-1).to(self.compute, copy=True)
            else:
                yield torch.cat([self.maps[t][n].reshape(-1).to(self.compute) for n in self.names])

    def output(self, merged: dict[str, torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
        out = {n: merged[n].view(self.shapes[n]).to(self.dtypes[n]) for n in self.names}
        return out[""] if self.maps is None else out


# -- the three steps on an (n_tasks, numel) block ----------------------------------------------------
def kth_largest_magnitude(matrix: torch.Tensor, k: float) -> torch.Tensor:
    """Per row, the ``floor(k * numel)``-th largest ``|x|`` (``inf`` when that count is 0, 0 when it is
    the whole row): entries at or above it are the top-``k`` fraction."""
    return _kth_largest(matrix.abs(), k)


def _kth_largest(magnitudes: torch.Tensor, k: float) -> torch.Tensor:
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k is the kept fraction, in (0, 1]; got {k}")
    numel = magnitudes.shape[-1]
    keep = int(k * numel)
    if keep >= numel:
        return magnitudes.new_zeros(magnitudes.shape[:-1])
    if keep == 0:
        return magnitudes.new_full(magnitudes.shape[:-1], float("inf"))
    return magnitudes.kthvalue(numel - keep + 1, dim=-1).values


def trim_(matrix: torch.Tensor, k: float, threshold: torch.Tensor | None = None) -> torch.Tensor:
    """Step 1 (Trim), in place on ``(n_tasks, numel)``: zero every entry with ``|tau|`` below its row's
    top-``k`` threshold (``threshold`` when given, e.g. a whole-model one). Entries tied at the
    threshold are all kept."""
    if threshold is None:
        threshold = kth_largest_magnitude(matrix, k)
    return matrix.masked_fill_(matrix.abs() < threshold.unsqueeze(-1), 0.0)


def _vote(trimmed: torch.Tensor, method: SignMethod) -> torch.Tensor:
    """Per parameter, the sign of the summed trimmed entries (``total``: the larger mass) or of the
    summed signs (``frequency``: more tasks); 0 where undecided."""
    if method == "total":
        return trimmed.sum(dim=0).sign()
    # counts of + and - entries through boolean blocks: a quarter of the memory of trimmed.sign()
    positive = (trimmed > 0).sum(dim=0, dtype=trimmed.dtype)
    return positive.sub_((trimmed < 0).sum(dim=0, dtype=trimmed.dtype)).sign_()


def elect_sign(trimmed: torch.Tensor, method: SignMethod = "total") -> torch.Tensor:
    """Step 2 (Elect): ``gamma_m = sgn(sum_t tau_hat_t)`` per parameter (``total``, the paper's: the
    sign of the larger total mass), or ``sgn(sum_t sgn(tau_hat_t))`` (``frequency``: the sign that
    more tasks carry). Where that sum is exactly zero the official code uses the majority of the
    elected signs, ``sgn(sum_p gamma_m^p)``; so does this, for both methods."""
    sign = _vote(trimmed, _sign_method(method))
    return torch.where(sign == 0, sign.sum().sign(), sign)


def disjoint_mean_(
    trimmed: torch.Tensor, sign: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Step 3 (Disjoint merge), consuming ``trimmed``: the mean over tasks of the entries whose sign
    equals the elected sign, ``1/|A^p| sum_{t in A^p} tau_hat_t^p`` (0 where ``A^p`` is empty); with
    ``weights`` (shape ``(n_tasks, 1)``), ``1/|A^p| sum_{t in A^p} w_t tau_hat_t^p``."""
    # With P = tau_hat * gamma, t is in A^p exactly where P > 0, and there P = |tau_hat|: so
    # sum_{A^p} tau_hat = gamma * sum_t max(P, 0) and |A^p| = sum_t sgn(max(P, 0)); all in place.
    agreeing = trimmed.mul_(sign).clamp_min_(0.0)
    if weights is None:
        total = agreeing.sum(dim=0)
        count = agreeing.sign_().sum(dim=0).clamp_min_(1.0)
    else:  # a weight may be 0 or negative: count A^p before weighting
        count = agreeing.ne(0.0).sum(dim=0, dtype=agreeing.dtype).clamp_min_(1.0)
        total = agreeing.mul_(weights.to(agreeing.device)).sum(dim=0)
    return total.mul_(sign).div_(count)


def _sign_method(method: str) -> SignMethod:
    if method not in SIGN_METHODS:
        raise ValueError(f"majority_sign_method must be 'total' or 'frequency', got {method!r}")
    return method  # type: ignore[return-value]


def task_weights(weights: Weights, n_tasks: int, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
    """``weights`` as an ``(n_tasks, 1)`` tensor of ``dtype`` (``None`` stays ``None``): one finite
    number per task vector, else a ValueError."""
    if weights is None:
        return None
    values = torch.as_tensor(weights, dtype=torch.float64).detach().cpu()
    if values.dim() != 1 or len(values) != n_tasks:
        got = len(values) if values.dim() == 1 else f"shape {tuple(values.shape)}"
        raise ValueError(f"weights needs one number per task vector ({n_tasks}), got {got}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"weights must be finite numbers, got {values.tolist()}")
    if isinstance(weights, torch.Tensor):  # keep a tensor's own rounding (PEFT passes float32 tensors)
        return weights.detach().to(dtype).reshape(n_tasks, 1)
    return torch.tensor([float(w) for w in weights], dtype=dtype).reshape(n_tasks, 1)


# -- public merges ---------------------------------------------------------------------------------
def ties_merge(
    task_vectors: TaskVectors,
    k: float = 0.2,
    lam: float = 1.0,
    scope: Scope = "model",
    weights: Weights = None,
    majority_sign_method: SignMethod = "total",
):
    """``lambda * tau_m``: the TIES-merged task vector, scaled (add it to ``theta_0``).

    :param task_vectors: ``(n_tasks, ...)`` tensor, sequence of tensors, or sequence of mappings.
    :param k: fraction of entries kept by the trim step (the paper's top-``k``% as a fraction: 0.2).
    :param lam: the scaling ``lambda`` of ``theta_m = theta_0 + lambda * tau_m``.
    :param scope: ``model`` trims over the whole flattened task vector (paper, official code);
        ``tensor`` trims every tensor of a mapping separately (PEFT's per-weight use).
    :param weights: one number per task vector, scaling its entries in the disjoint mean (trim and
        sign election use the unweighted vectors, as in PEFT's ``ties``); ``None``: all 1.
    :param majority_sign_method: ``total`` (the paper's: the sign of the summed entries) or
        ``frequency`` (the sign of the summed signs).
    :returns: a tensor shaped like one task vector, or a dict for mapping inputs.
    """
    if scope not in ("model", "tensor"):
        raise ValueError(f"scope must be 'model' or 'tensor', got {scope!r}")
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k is the kept fraction, in (0, 1]; got {k}")
    method = _sign_method(majority_sign_method)
    blocks = _Blocks(task_vectors)
    w = task_weights(weights, blocks.n_tasks, blocks.compute)
    whole_model = None
    if scope == "model" or blocks.maps is None:  # one threshold per task over all its entries
        whole_model = torch.stack([_kth_largest(row.abs_(), k) for row in blocks.rows()])
    merged: dict[str, torch.Tensor] = {}
    undecided = []  # entries whose vote is exactly 0 but not all zero: decided by the majority
    sign_total = 0.0
    for name in blocks.names:  # one parameter tensor at a time: steps 2-3 are element-wise
        block = trim_(blocks.block(name), k, whole_model)
        sign = _vote(block, method)
        sign_total += float(sign.sum(dtype=torch.float64))
        tied = ((sign == 0) & (block != 0).any(dim=0)).nonzero().flatten()
        if len(tied):
            undecided.append((name, tied, block[:, tied].clone()))
        merged[name] = disjoint_mean_(block, sign, w)
    majority = 1.0 if sign_total > 0 else -1.0 if sign_total < 0 else 0.0
    for name, where, values in undecided:
        merged[name][where] = disjoint_mean_(values, torch.full_like(values[0], majority), w)
    for value in merged.values():
        value.mul_(lam)
    return blocks.output(merged)


def task_arithmetic(task_vectors: TaskVectors, lam: float = 1.0, weights: Weights = None):
    """``lambda * sum_t w_t tau_t`` (task arithmetic, the paper's baseline; add it to ``theta_0``);
    ``weights`` ``w_t``, one per task vector, default to 1."""
    if isinstance(task_vectors, torch.Tensor):
        dtype = task_vectors.dtype
        compute = _compute_dtype(dtype)
        w = task_weights(weights, len(task_vectors), compute)
        if w is None:
            return task_vectors.sum(dim=0, dtype=compute).mul_(lam).to(dtype)
        flat = task_vectors.reshape(len(task_vectors), -1).to(compute) * w.to(task_vectors.device)
        return flat.sum(dim=0).view(task_vectors.shape[1:]).mul_(lam).to(dtype)
    vectors = list(task_vectors)
    if not vectors:
        raise ValueError("no task vectors to merge")
    if isinstance(vectors[0], torch.Tensor):
        return task_arithmetic(torch.stack(vectors), lam, weights)
    names = list(vectors[0])
    dtypes = [vectors[0][n].dtype for n in names]
    w = task_weights(weights, len(vectors), torch.float64)

    def term(t: int) -> list[torch.Tensor]:
        """``w_t tau_t`` (``tau_t`` when unweighted) per tensor, in the compute dtype."""
        if w is None:
            return [vectors[t][n] for n in names]
        values = [vectors[t][n].to(_compute_dtype(dt), copy=True) for n, dt in zip(names, dtypes)]
        return [v.mul_(w[t].to(v.device, v.dtype)) for v in values]

    total = [v.to(_compute_dtype(dt), copy=True) for v, dt in zip(term(0), dtypes)]
    for t in range(1, len(vectors)):
        torch._foreach_add_(total, term(t))
    torch._foreach_mul_(total, lam)
    return {n: t.to(dt) for n, t, dt in zip(names, total, dtypes)}


# -- state dicts -----------------------------------------------------------------------------------
def tied_aliases(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """``{alias: first name}`` for floating-point entries that share storage with an earlier one."""
    first: dict[tuple[int, int, tuple[int, ...]], str] = {}
    aliases = {}
    for name, value in state.items():
        if not value.is_floating_point() or not value.numel():
            continue
        ident = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
        if ident in first:
            aliases[name] = first[ident]
        else:
            first[ident] = name
    return aliases


def mergeable_keys(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Floating-point entries, each storage once (tied weights such as shared embeddings would
    otherwise be counted twice by the global trim; the official code removes them the same way)."""
    aliases = tied_aliases(state)
    return [n for n, v in state.items() if v.is_floating_point() and n not in aliases]


class TaskVector(Mapping[str, torch.Tensor]):
    """``tau = theta_t - theta_0`` over ``keys``, computed when a tensor is read (never stored)."""

    def __init__(
        self, base: Mapping[str, torch.Tensor], finetuned: Mapping[str, torch.Tensor], keys: Sequence[str]
    ):
        missing = [n for n in keys if n not in finetuned]
        if missing:
            raise KeyError(f"a fine-tuned state lacks {missing[:5]}")
        self.base, self.finetuned, self.keys_ = base, finetuned, list(keys)

    def __getitem__(self, name: str) -> torch.Tensor:
        b = self.base[name]
        return self.finetuned[name].to(device=b.device, dtype=b.dtype) - b

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)


def task_vectors_of(
    base: Mapping[str, torch.Tensor], finetuned: Sequence[Mapping[str, torch.Tensor]], keys: Sequence[str]
) -> list[TaskVector]:
    """``tau_t = theta_t - theta_0`` for every fine-tuned state, over ``keys`` (lazily computed)."""
    return [TaskVector(base, state, keys) for state in finetuned]


def merged_task_vector(
    task_vectors: Sequence[Mapping[str, torch.Tensor]],
    method: Method,
    k: float,
    lam: float,
    scope: Scope,
    weights: Weights = None,
    majority_sign_method: SignMethod = "total",
) -> dict[str, torch.Tensor]:
    """``lambda * tau_m`` by ``method`` (``majority_sign_method`` is TIES's alone)."""
    if method == "ties":
        return ties_merge(
            task_vectors,
            k=k,
            lam=lam,
            scope=scope,
            weights=weights,
            majority_sign_method=majority_sign_method,
        )
    if method == "task_arithmetic":
        if _sign_method(majority_sign_method) != "total":
            raise ValueError("majority_sign_method 'frequency' applies to method 'ties' only")
        return task_arithmetic(task_vectors, lam=lam, weights=weights)
    raise ValueError(f"method must be 'ties' or 'task_arithmetic', got {method!r}")


def merge_state_dicts(
    base: Mapping[str, torch.Tensor],
    finetuned: Sequence[Mapping[str, torch.Tensor]],
    method: Method = "ties",
    k: float = 0.2,
    lam: float = 1.0,
    scope: Scope = "model",
    weights: Weights = None,
    majority_sign_method: SignMethod = "total",
) -> dict[str, torch.Tensor]:
    """``theta_m = theta_0 + lambda * merge(tau_1..tau_n)`` as a state dict; entries that are not
    floating point (e.g. BatchNorm's step counter) are taken from ``base``. ``weights`` (one per
    fine-tuned state) and ``majority_sign_method`` as in :func:`ties_merge`."""
    keys = mergeable_keys(base)
    delta = merged_task_vector(
        task_vectors_of(base, finetuned, keys), method, k, lam, scope, weights, majority_sign_method
    )
    out = {n: v.clone() for n, v in base.items()}
    torch._foreach_add_([out[n] for n in keys], [delta[n] for n in keys])
    for alias, name in tied_aliases(base).items():
        out[alias] = out[name]
    return out
