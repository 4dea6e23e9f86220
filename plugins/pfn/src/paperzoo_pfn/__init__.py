"""Transformers Can Do Bayesian Inference (Müller, Hollmann, Pineda Arango, Grabocka, Hutter, 2022),
arXiv:2112.10510: prior-data fitted networks (PFNs).

Registration only: nothing heavy is imported here. The generic pieces (prior samplers, reference
learners, the masked (x, y) transformer, the bar distribution) live in the synthtasks kit.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Transformers Can Do Bayesian Inference", year=2022, arxiv="2112.10510")

_SMALL_MODEL = {
    "name": "pfn_transformer",
    "n_train": 8,
    "d_model": 16,
    "n_layers": 1,
    "n_heads": 2,
    "num_bars": 10,
    "border_samples": 2000,
}
_TINY_RUN = {
    "data": {"name": "synthtasks_gp1d", "num_tasks": 32, "val_tasks": 8, "seq_len": 12, "n_train": 8},
    "model": _SMALL_MODEL,
    "optimizer": {"name": "adam", "lr": 1e-3},
}


@hookimpl
def register_layers(register):
    register(
        "pfn_transformer",
        "paperzoo_pfn.model:PFNTransformer",
        "Prior-data fitted network: a transformer over (x, y) training tokens and query x tokens, with "
        "the PFN mask (everything attends to the training set and itself), and a bar-distribution head.",
        paper=PAPER,
        tags=("in-context", "bayesian", "transformer", "model"),
        example={k: v for k, v in _SMALL_MODEL.items() if k != "name"},
        example_input=[2, 12, 2],
    )
    register(
        "bar_distribution_head",
        "paperzoo_synthtasks.bars:BarDistributionHead",
        "Riemann (bar) distribution head: logits over fixed buckets, a piecewise-constant density with "
        "half-normal tails on the outer buckets.",
        paper=PAPER,
        tags=("head", "distribution", "regression"),
        example={"d_model": 16, "num_bars": 10},
        example_input=[2, 5, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "prior_fitting",
        "paperzoo_pfn.trainer:PriorFitting",
        "Prior fitting: minimise the bar NLL of query targets over tasks drawn from a prior, with the "
        "number of observed points drawn per step.",
        paper=PAPER,
        tags=("in-context", "bayesian"),
        example={"max_steps": 2, "batch_size": 8, "n_train_range": [2, 8], "progress": False},
        example_config=_TINY_RUN,
    )


@hookimpl
def register_evaluators(register):
    register(
        "pfn_posterior_predictive",
        "paperzoo_pfn.evaluate:PosteriorPredictive",
        "NLL and squared error of a PFN's posterior predictive on held-out tasks, beside the exact "
        "posterior predictive of the prior (GP or Bayesian linear regression).",
        paper=PAPER,
        tags=("in-context", "bayesian"),
        example={
            "reference": "gp1d",
            "prior_params": {"lengthscale": 0.2, "outputscale": 1.0, "noise": 0.01},
        },
        example_config=_TINY_RUN,
    )
