"""synthtasks: synthetic regression tasks drawn from priors (1-D RBF-GP, Bayesian linear regression),
their exact posterior predictives and simple baselines as reference learners, and the generic pieces of a
model that learns to predict from such tasks in context: the (x, y)-token transformer with the
prior-fitting attention mask and the bar-distribution head.

Registration only: nothing heavy is imported here. The kit registers its prior samplers as datasets;
models built from its transformer and head are registered by the papers that use them.
"""

from paperzoo import hookimpl

PRIORS = "paperzoo_synthtasks.priors"


@hookimpl
def register_datasets(register):
    register(
        "synthtasks_gp1d",
        f"{PRIORS}:synthtasks_gp1d",
        "Regression tasks drawn from a zero-mean 1-D RBF-kernel GP prior: each item is one task, n_train "
        "observed (x, y) points then query x's (their y as targets).",
        tags=("synthetic", "regression", "prior", "in-context"),
        example={"num_tasks": 16, "val_tasks": 4, "seq_len": 12, "n_train": 8},
    )
    register(
        "synthtasks_linreg",
        f"{PRIORS}:synthtasks_linreg",
        "Linear-regression tasks with Gaussian weights (prior_var) and Gaussian noise: each item is one "
        "task, n_train observed (x, y) points then query x's.",
        tags=("synthetic", "regression", "prior", "in-context"),
        example={"num_tasks": 16, "val_tasks": 4, "seq_len": 12, "n_train": 8, "n_features": 2},
    )
