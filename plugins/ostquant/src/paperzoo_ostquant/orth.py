"""Orthogonal matrices of OSTQuant: random Hadamard initialisation and the Cayley retraction on the Stiefel
manifold (orthogonal ``n x n`` matrices), the optimiser that keeps a learnt rotation exactly orthogonal.

Cayley SGD (Li, Li, Todorovic, ICLR 2020; the optimiser SpinQuant and OSTQuant train rotations with): with
the Euclidean gradient ``G`` of a loss at ``X``, the skew-symmetric ``A = G X^T - X G^T`` and step ``lr``,
``X <- (I + lr/2 A)^{-1} (I - lr/2 A) X``; the Cayley transform of a skew matrix is orthogonal, so ``X``
stays on the manifold to rounding error, and for small ``lr`` the step is ``-lr A X``, a descent
direction (``<G, A X> = ||A||^2 / 2 >= 0``).
"""

from __future__ import annotations

import math

import torch


def hadamard(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal Sylvester-Hadamard matrix ``H / sqrt(n)`` (``n`` a power of two)."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"n: {n}; accepted: a power of two")
    h = torch.ones(1, 1, dtype=dtype)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


def random_orthogonal(n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A Haar-random orthogonal ``n x n`` matrix (QR of a Gaussian with the sign fix of R's diagonal)."""
    q, r = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(dtype)


def random_hadamard(n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """QuaRot's randomised Hadamard rotation ``diag(±1) H / sqrt(n)`` for a power-of-two ``n``; a
    Haar-random orthogonal matrix otherwise (no Hadamard matrix of that order is built here)."""
    if n & (n - 1):
        return random_orthogonal(n, generator, dtype)
    signs = torch.randint(0, 2, (n,), generator=generator).to(torch.float64) * 2 - 1
    return (signs[:, None] * hadamard(n)).to(dtype)


def cayley_step(x: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    """One Cayley retraction step of the orthogonal ``x`` along ``-grad`` (module docstring)."""
    a = grad @ x.T - x @ grad.T
    eye = torch.eye(x.shape[0], dtype=x.dtype, device=x.device)
    return torch.linalg.solve(eye + 0.5 * lr * a, (eye - 0.5 * lr * a) @ x)


class CayleySGD(torch.optim.Optimizer):
    """SGD on orthogonal matrices by the Cayley retraction; a parameter of shape ``[..., n, n]`` is a stack
    of orthogonal matrices, each updated on its own. ``momentum`` accumulates the skew-symmetric directions
    (the transport of the previous direction is the identity, as in Li et al.'s Cayley SGD)."""

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.0) -> None:
        if lr <= 0:
            raise ValueError(f"lr: {lr!r}; accepted: a number > 0")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum: {momentum!r}; accepted: a number in [0, 1)")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                x, g = p.reshape(-1, *p.shape[-2:]), p.grad.reshape(-1, *p.shape[-2:])
                a = g @ x.transpose(-1, -2) - x @ g.transpose(-1, -2)
                if group["momentum"]:
                    buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(a))
                    buf.mul_(group["momentum"]).add_(a)
                    a = buf
                eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device).expand_as(a)
                half = 0.5 * group["lr"] * a
                p.copy_(torch.linalg.solve(eye + half, (eye - half) @ x).reshape(p.shape))
        return loss
