"""The PFN's posterior predictive on held-out tasks, beside the prior's exact posterior predictive."""

from __future__ import annotations

from typing import Any

import torch
from paperzoo.data import DataBundle, fetch
from paperzoo.errors import ParamError
from paperzoo_synthtasks.reference import bayes_linreg_predictive, gaussian_nll, gp_posterior

from paperzoo_pfn.model import bar_model

REFERENCES = {"gp1d": gp_posterior, "linreg": bayes_linreg_predictive}


class PosteriorPredictive:
    """Mean NLL and squared error of the PFN's predictive at the query points of the validation tasks;
    with ``reference`` also the exact posterior predictive's NLL (``gp1d``: the GP with the prior's
    kernel; ``linreg``: Bayesian linear regression) and the gap ``pfn_nll - ref_nll``.

    :param reference: ``gp1d``, ``linreg`` or ``none``.
    :param prior_params: the prior's hyperparameters, as given to its dataset (lengthscale,
        outputscale, noise; or prior_var, noise).
    :param max_tasks: validation tasks scored.
    :param n_train: observed points per task (default: the model's ``n_train``).
    """

    def __init__(
        self,
        reference: str = "none",
        prior_params: dict[str, Any] | None = None,
        max_tasks: int = 200,
        n_train: int | None = None,
    ):
        if reference not in (*REFERENCES, "none"):
            raise ParamError("reference", f"got {reference!r}; accepted: gp1d, linreg or none")
        if max_tasks < 1:
            raise ParamError("max_tasks", f"got {max_tasks}; accepted: at least 1")
        self.reference, self.prior_params = reference, dict(prior_params or {})
        self.max_tasks, self.n_train = max_tasks, n_train
        self.keys = ("pfn_nll", "pfn_mse") + (("ref_nll", "nll_gap") if reference != "none" else ())

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, data: DataBundle) -> dict[str, float]:
        pfn = bar_model(model, "pfn_posterior_predictive")
        n = min(self.max_tasks, len(data.val))
        inputs, y = fetch(data.val, torch.arange(n))
        n_train = self.n_train or pfn.n_train
        device = next(pfn.parameters()).device
        was_training = pfn.training
        pfn.eval()
        logits = pfn(inputs.to(device), n_train=n_train).double().cpu()
        pfn.train(was_training)
        yq = y[:, n_train:].double()
        out = {
            "pfn_nll": float(pfn.dist.nll(logits, yq).mean()),
            "pfn_mse": float(((pfn.dist.mean(logits) - yq) ** 2).mean()),
        }
        if self.reference != "none":
            fn, d = REFERENCES[self.reference], inputs.shape[-1] - 1
            nll = [
                gaussian_nll(
                    *fn(x[:n_train, :d], t[:n_train], x[n_train:, :d], **self.prior_params),
                    t[n_train:].double(),
                )
                for x, t in zip(inputs, y)
            ]
            out["ref_nll"] = float(torch.cat(nll).mean())
            out["nll_gap"] = out["pfn_nll"] - out["ref_nll"]
        return out
