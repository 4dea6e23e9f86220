"""Reference learners for the priors: the exact posterior predictive where it has a closed form (GP
with known hyperparameters, Bayesian linear regression) and simple baselines (ridge, the train mean).

Every learner takes one task, ``x_train`` (n, d), ``y_train`` (n,), ``x_query`` (m, d), and returns the
predictive ``mean`` and ``var`` (m,) of ``y`` at the queries (observation noise included), as float64
tensors, so that :func:`gaussian_nll` scores them like any predictive distribution.
"""

from __future__ import annotations

import math

import torch

from paperzoo_synthtasks.priors import rbf_kernel


def gaussian_nll(mean: torch.Tensor, var: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Negative log density of ``y`` under ``N(mean, var)``, elementwise."""
    return 0.5 * (torch.log(2 * math.pi * var) + (y - mean) ** 2 / var)


def gp_posterior_sklearn(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_query: torch.Tensor,
    lengthscale: float = 0.2,
    outputscale: float = 1.0,
    noise: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The GP posterior predictive through scikit-learn's ``GaussianProcessRegressor`` with the
    prior's kernel fixed (``ConstantKernel * RBF + WhiteKernel``, no hyperparameter fitting)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(outputscale, "fixed") * RBF(lengthscale, "fixed") + WhiteKernel(noise, "fixed")
    gp = GaussianProcessRegressor(kernel, alpha=0.0, optimizer=None, normalize_y=False)
    gp.fit(x_train.double().numpy(), y_train.double().numpy())
    mean, std = gp.predict(x_query.double().numpy(), return_std=True)
    return torch.from_numpy(mean), torch.from_numpy(std) ** 2


def gp_posterior(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_query: torch.Tensor,
    lengthscale: float = 0.2,
    outputscale: float = 1.0,
    noise: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same GP posterior predictive in closed form (Cholesky), in float64."""
    xt, yt, xq = x_train.double(), y_train.double(), x_query.double()
    k = rbf_kernel(xt, xt, lengthscale, outputscale) + noise * torch.eye(len(xt), dtype=torch.float64)
    kq = rbf_kernel(xq, xt, lengthscale, outputscale)
    chol = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(yt.unsqueeze(-1), chol).squeeze(-1)
    v = torch.linalg.solve_triangular(chol, kq.T, upper=False)
    var = outputscale + noise - v.pow(2).sum(0)
    return kq @ alpha, var


def bayes_linreg_predictive(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_query: torch.Tensor,
    prior_var: float = 1.0,
    noise: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Bayes posterior predictive of linear regression with ``w ~ N(0, prior_var I)`` and noise
    variance ``noise``: ``S = (X'X / noise + I / prior_var)^-1``, mean ``x* S X'y / noise``, variance
    ``x* S x*' + noise``."""
    xt, yt, xq = x_train.double(), y_train.double(), x_query.double()
    precision = xt.T @ xt / noise + torch.eye(xt.shape[1], dtype=torch.float64) / prior_var
    cov = torch.linalg.inv(precision)
    w = cov @ xt.T @ yt / noise
    return xq @ w, (xq @ cov * xq).sum(-1) + noise


def ridge_predictive(
    x_train: torch.Tensor, y_train: torch.Tensor, x_query: torch.Tensor, alpha: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn ``Ridge`` (with intercept); the variance is the training residuals' mean square
    (at least 1e-3), so that it can be scored as a Gaussian predictive."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=alpha).fit(x_train.double().numpy(), y_train.double().numpy())
    resid = y_train.double().numpy() - model.predict(x_train.double().numpy())
    var = max(float((resid**2).mean()), 1e-3)
    mean = torch.from_numpy(model.predict(x_query.double().numpy()))
    return mean, torch.full_like(mean, var)


def mean_predictive(
    x_train: torch.Tensor, y_train: torch.Tensor, x_query: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The train targets' mean and variance (at least 1e-3) at every query: the no-learning baseline."""
    yt = y_train.double()
    var = max(float(yt.var(unbiased=False)) if len(yt) > 1 else 1.0, 1e-3)
    return torch.full((len(x_query),), float(yt.mean()), dtype=torch.float64), torch.full(
        (len(x_query),), var, dtype=torch.float64
    )
