"""EoRA's closed form (Liu et al., 2024, section 3; the official ``llama_sequential_eigen``): the rank-``r``
compensation ``B A`` of a compression error ``dW = W - W'`` that minimises the activation-weighted error.

With calibration inputs ``X`` (``[in, N]``, one column per token) and their gram matrix
``H = X X^T = Q L Q^T`` (eigen-decomposition), the error of a compensation ``M`` on those inputs is

    ||(dW - M) X||_F^2 = tr((dW - M) H (dW - M)^T) = ||(dW - M) Q'||_F^2,   Q' = Q L^(1/2).

``Q'`` is invertible (eigenvalues guarded, below), so the best rank-``r`` ``M`` follows from the truncated
SVD ``dW Q' = U S V^T`` (Eckart-Young): ``M = U_r S_r V_r^T Q'^-1``, split as the official code does,
``B = U_r S_r^(1/2)`` (``[out, r]``) and ``A = S_r^(1/2) V_r^T Q'^-1`` (``[r, in]``), with
``Q'^-1 = L^(-1/2) Q^T``. The remaining error is ``sqrt(sum_{i > r} S_i^2)``. Plain SVD compensation (the
paper's ablation, the official ``llama_sequential_svd``) is the same with ``Q' = I``.

**Guard.** The official code replaces negative eigenvalues (round-off of a rank-deficient ``H``) by the
smallest positive one. Here every eigenvalue ``<= floor * max(L)`` (``floor`` default ``1e-12``; ``0``
gives the official rule, zero eigenvalues included) takes the smallest eigenvalue above that bound: a
direction no calibration token reaches is weighted like the weakest one that is reached.

Everything is computed in float64 (the official code: the eigen-decomposition in float64, the rest in
float32); ``A`` and ``B`` come back in ``dW``'s dtype.
"""

from __future__ import annotations

import torch

F64 = torch.float64


def gram(x: torch.Tensor) -> torch.Tensor:
    """``X X^T`` (``[in, in]``, float64) of inputs ``x`` ``[..., in]`` (every leading index a token)."""
    flat = x.detach().reshape(-1, x.shape[-1]).to(F64)
    return flat.T @ flat


def eigen_scaling(h: torch.Tensor, floor: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q', Q'^-1)`` of a symmetric positive semi-definite ``h``: ``Q' = Q L^(1/2)`` and
    ``Q'^-1 = L^(-1/2) Q^T`` with ``h = Q L Q^T``, eigenvalues guarded (module docstring)."""
    if h.dim() != 2 or h.shape[0] != h.shape[1]:
        raise ValueError(f"gram matrix of shape {tuple(h.shape)}; accepted: a square [in, in] matrix")
    evals, q = torch.linalg.eigh(h.to(F64))
    bound = floor * evals.max().clamp(min=0)
    kept = evals[evals > bound]
    if kept.numel() == 0:
        raise ValueError("gram matrix has no positive eigenvalue: calibration inputs are all zero")
    evals = torch.where(evals > bound, evals, kept.min())
    root = evals.sqrt()
    return q * root, (q / root).T


def _split(
    u: torch.Tensor, s: torch.Tensor, vt: torch.Tensor, rank: int
) -> tuple[torch.Tensor, torch.Tensor]:
    root = s[:rank].sqrt()
    return u[:, :rank] * root, root[:, None] * vt[:rank]


def eora_factors(
    delta: torch.Tensor, h: torch.Tensor, rank: int, floor: float = 1e-12
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, A)``: EoRA's rank-``rank`` compensation of ``delta`` (``[out, in]``) for inputs of gram matrix
    ``h`` (``[in, in]``); ``delta ~ B @ A`` where the inputs go. ``rank`` at most ``min(out, in)``."""
    _check_rank(delta, rank)
    q_scale, q_inv = eigen_scaling(h, floor)
    u, s, vt = torch.linalg.svd(delta.to(F64) @ q_scale, full_matrices=False)
    b, a_scaled = _split(u, s, vt, rank)
    return b.to(delta.dtype), (a_scaled @ q_inv).to(delta.dtype)


def svd_factors(delta: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, A)``: plain truncated SVD of ``delta`` (the activation-blind ablation), split the same way."""
    _check_rank(delta, rank)
    u, s, vt = torch.linalg.svd(delta.to(F64), full_matrices=False)
    b, a = _split(u, s, vt, rank)
    return b.to(delta.dtype), a.to(delta.dtype)


def weighted_error(error: torch.Tensor, h: torch.Tensor) -> float:
    """``||E X||_F = sqrt(tr(E H E^T))`` for a weight error ``E`` ``[out, in]`` and ``H = X X^T``."""
    e = error.to(F64)
    return float(torch.einsum("oi,ij,oj->", e, h.to(F64), e).clamp(min=0).sqrt())


def optimal_error(delta: torch.Tensor, h: torch.Tensor, rank: int, floor: float = 1e-12) -> float:
    """The closed-form minimum of ``||(delta - M) X||_F`` over rank-``rank`` ``M``: the root sum of squares
    of the singular values of ``delta Q'`` beyond the first ``rank``."""
    s = torch.linalg.svdvals(delta.to(F64) @ eigen_scaling(h, floor)[0])
    return float(s[rank:].square().sum().sqrt())


def _check_rank(delta: torch.Tensor, rank: int) -> None:
    if delta.dim() != 2:
        raise ValueError(f"weight error of shape {tuple(delta.shape)}; accepted: a 2-D [out, in] tensor")
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= min(delta.shape):
        raise ValueError(f"rank {rank!r}; accepted: an integer in [1, {min(delta.shape)}]")
