"""Core's own components, registered through the same hooks as any plugin."""

from ..hookspecs import hookimpl
from ..spec import Paper

ADAM = Paper("Adam: A Method for Stochastic Optimization", 2014, arxiv="1412.6980")
ADAMW = Paper("Decoupled Weight Decay Regularization", 2017, arxiv="1711.05101")
SGD = Paper(
    "On the importance of initialization and momentum in deep learning",
    2013,
    url="https://proceedings.mlr.press/v28/sutskever13.html",
)
SGDR = Paper("SGDR: Stochastic Gradient Descent with Warm Restarts", 2016, arxiv="1608.03983")
BACKPROP = Paper(
    "Learning representations by back-propagating errors", 1986, url="https://doi.org/10.1038/323533a0"
)
SHANNON = Paper(
    "A Mathematical Theory of Communication", 1948, url="https://doi.org/10.1002/j.1538-7305.1948.tb01338.x"
)


@hookimpl
def register_optimizers(register):
    register(
        "sgd",
        "torch.optim:SGD",
        "Stochastic gradient descent with (Nesterov) momentum.",
        paper=SGD,
        tags=("baseline",),
        example={"lr": 0.1, "momentum": 0.9},
    )
    register(
        "adam",
        "torch.optim:Adam",
        "Adam: adaptive moment estimation.",
        paper=ADAM,
        tags=("baseline", "adaptive"),
        example={"lr": 0.01},
    )
    register(
        "adamw",
        "torch.optim:AdamW",
        "Adam with decoupled weight decay.",
        paper=ADAMW,
        tags=("baseline", "adaptive"),
        example={"lr": 0.01, "weight_decay": 0.01},
    )
    register(
        "cosine",
        "torch.optim.lr_scheduler:CosineAnnealingLR",
        "Cosine learning-rate annealing (built with the optimizer as first argument).",
        paper=SGDR,
        tags=("schedule",),
        example={"T_max": 100},
    )


@hookimpl
def register_layers(register):
    register(
        "mlp",
        "paperzoo.builtins.layers:MLP",
        "Multilayer perceptron: flatten, then Linear-activation blocks (a baseline model).",
        paper=BACKPROP,
        tags=("model", "baseline"),
        example={"in_features": 16, "num_classes": 4, "hidden": [32]},
        example_input=[2, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "supervised",
        "paperzoo.trainer:Supervised",
        "Minibatch training: epochs or steps, accumulation, clipping, mixed precision, "
        "checkpoints and resume, DDP.",
        paper=BACKPROP,
        tags=("baseline",),
        example={"epochs": 1, "batch_size": 16},
    )


@hookimpl
def register_evaluators(register):
    register(
        "accuracy",
        "paperzoo.builtins.evaluators:Accuracy",
        "Top-1 accuracy on the validation split.",
        paper=None,
        tags=("metric", "classification"),
    )
    register(
        "loss",
        "paperzoo.builtins.evaluators:Loss",
        "Mean task loss on the validation split.",
        paper=None,
        tags=("metric",),
    )
    register(
        "perplexity",
        "paperzoo.builtins.evaluators:Perplexity",
        "exp(mean token cross-entropy) of a language model on the validation split.",
        paper=SHANNON,
        tags=("metric", "language_modeling"),
    )


@hookimpl
def register_datasets(register):
    register(
        "synthetic_classification",
        "paperzoo.builtins.datasets:synthetic_classification",
        "Gaussian clusters, one per class (a seeded, exactly reproducible toy task).",
        paper=None,
        tags=("synthetic",),
        example={"n_samples": 64, "n_features": 4, "num_classes": 3},
    )
    register(
        "synthetic_regression",
        "paperzoo.builtins.datasets:synthetic_regression",
        "Noisy linear targets of Gaussian inputs.",
        paper=None,
        tags=("synthetic",),
        example={"n_samples": 64, "n_features": 4},
    )
    register(
        "stdlib_text",
        "paperzoo.builtins.datasets:stdlib_text",
        "Byte-level language modelling on the Python standard library's own source files.",
        paper=None,
        tags=("text", "language_modeling"),
        example={"seq_len": 32, "max_bytes": 20000},
    )
