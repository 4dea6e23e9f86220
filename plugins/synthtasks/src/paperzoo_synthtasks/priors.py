"""Prior samplers: each call draws a batch of whole regression tasks (one function per task, its inputs
and noisy outputs), and the dataset components that freeze such draws into train/validation splits.

Layout of one task as a dataset item: ``input`` of shape ``(seq_len, n_features + 1)`` holding the
features and, in the last column, the observed ``y`` of the first ``n_train`` points (zero for the
query points, so nothing leaks), and ``target`` of shape ``(seq_len,)`` holding every ``y``.
"""

from __future__ import annotations

import math

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from torch.utils.data import TensorDataset


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, lengthscale: float, outputscale: float) -> torch.Tensor:
    """``outputscale * exp(-|a - b|^2 / (2 lengthscale^2))`` between the rows of ``a`` (..., n, d) and
    ``b`` (..., m, d)."""
    sq = (a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1)
    return outputscale * torch.exp(-0.5 * sq / lengthscale**2)


def sample_gp1d(
    n_tasks: int,
    seq_len: int,
    lengthscale: float = 0.2,
    outputscale: float = 1.0,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n_tasks`` functions from a zero-mean GP with an RBF kernel on ``x ~ U[0, 1]``.

    ``outputscale`` and ``noise`` are variances (the gpytorch convention the paper's code uses).
    Returns ``x`` of shape ``(n_tasks, seq_len, 1)`` and ``y`` of shape ``(n_tasks, seq_len)``.
    """
    x = torch.rand(n_tasks, seq_len, 1, generator=generator, dtype=torch.float64)
    cov = rbf_kernel(x, x, lengthscale, outputscale) + (noise + 1e-8) * torch.eye(
        seq_len, dtype=torch.float64
    )
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(n_tasks, seq_len, 1, generator=generator, dtype=torch.float64)
    y = (chol @ z).squeeze(-1)
    return x.to(dtype), y.to(dtype)


def sample_linreg(
    n_tasks: int,
    seq_len: int,
    n_features: int = 2,
    prior_var: float = 1.0,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n_tasks`` linear-regression tasks: ``x ~ N(0, I)``, ``w ~ N(0, prior_var I)``,
    ``y = x w + eps`` with ``eps ~ N(0, noise)`` (``prior_var`` and ``noise`` are variances).

    Returns ``x`` of shape ``(n_tasks, seq_len, n_features)`` and ``y`` of shape ``(n_tasks, seq_len)``.
    """
    x = torch.randn(n_tasks, seq_len, n_features, generator=generator, dtype=torch.float64)
    w = torch.randn(n_tasks, n_features, 1, generator=generator, dtype=torch.float64) * math.sqrt(prior_var)
    eps = torch.randn(n_tasks, seq_len, generator=generator, dtype=torch.float64) * math.sqrt(noise)
    y = (x @ w).squeeze(-1) + eps
    return x.to(dtype), y.to(dtype)


def pack(x: torch.Tensor, y: torch.Tensor, n_train: int) -> torch.Tensor:
    """The model input of a batch of tasks: features, then ``y`` with the query points' ``y`` zeroed."""
    observed = y.clone()
    observed[:, n_train:] = 0
    return torch.cat([x, observed.unsqueeze(-1)], -1)


def _check(num_tasks: int, val_tasks: int, seq_len: int, n_train: int, **positive: float) -> None:
    for name, value in (("num_tasks", num_tasks), ("val_tasks", val_tasks)):
        if value < 1:
            raise ParamError(name, f"got {value}; accepted: at least 1")
    if seq_len < 2:
        raise ParamError("seq_len", f"got {seq_len}; accepted: at least 2 (train and query points)")
    if not 1 <= n_train < seq_len:
        raise ParamError("n_train", f"got {n_train}; accepted: 1 <= n_train < seq_len ({seq_len})")
    for name, value in positive.items():
        if not value > 0:
            raise ParamError(name, f"got {value}; accepted: a positive number")


def _bundle(x: torch.Tensor, y: torch.Tensor, n_train: int, num_tasks: int, name: str) -> DataBundle:
    inputs = pack(x, y, n_train)
    train = TensorDataset(inputs[:num_tasks], y[:num_tasks])
    val = TensorDataset(inputs[num_tasks:], y[num_tasks:])
    return DataBundle(train, val, task="regression", input_shape=tuple(inputs.shape[1:]), name=name)


def synthtasks_gp1d(
    num_tasks: int = 2000,
    val_tasks: int = 200,
    seq_len: int = 30,
    n_train: int = 20,
    lengthscale: float = 0.2,
    outputscale: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
) -> DataBundle:
    """Tasks drawn from the 1-D RBF-GP prior (see :func:`sample_gp1d`), ``n_train`` observed points
    then ``seq_len - n_train`` query points per task; deterministic for ``seed``."""
    _check(
        num_tasks, val_tasks, seq_len, n_train, lengthscale=lengthscale, outputscale=outputscale, noise=noise
    )
    g = torch.Generator().manual_seed(seed)
    x, y = sample_gp1d(num_tasks + val_tasks, seq_len, lengthscale, outputscale, noise, generator=g)
    return _bundle(x, y, n_train, num_tasks, "synthtasks_gp1d")


def synthtasks_linreg(
    num_tasks: int = 2000,
    val_tasks: int = 200,
    seq_len: int = 30,
    n_train: int = 20,
    n_features: int = 2,
    prior_var: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
) -> DataBundle:
    """Linear-regression tasks with Gaussian weights and noise (see :func:`sample_linreg`);
    deterministic for ``seed``."""
    _check(num_tasks, val_tasks, seq_len, n_train, prior_var=prior_var, noise=noise)
    if n_features < 1:
        raise ParamError("n_features", f"got {n_features}; accepted: at least 1")
    g = torch.Generator().manual_seed(seed)
    x, y = sample_linreg(num_tasks + val_tasks, seq_len, n_features, prior_var, noise, generator=g)
    return _bundle(x, y, n_train, num_tasks, "synthtasks_linreg")
