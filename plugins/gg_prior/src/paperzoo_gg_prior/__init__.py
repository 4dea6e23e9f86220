"""It Takes a Good Model to Train a Good Model: Generalized Gaussian Priors for Optimized LLMs
(Wu, Xiong, Wen, Han; 2025), arXiv:2506.00486.

Registration only: nothing heavy is imported here.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="It Takes a Good Model to Train a Good Model: Generalized Gaussian Priors for Optimized LLMs",
    year=2025,
    arxiv="2506.00486",
)


@hookimpl
def register_layers(register):
    register(
        "gg_init",
        "paperzoo_gg_prior.init:gg_init",
        "Re-initialises a Linear/Conv layer with generalised Gaussian weights of Kaiming's variance.",
        paper=PAPER,
        tags=("initialization", "generalized_gaussian"),
        example={"beta": 1.0},
        example_input=[2, 8],
        example_base={"type": "Linear", "args": [8, 16]},
    )
    register(
        "rf8_fake_quant",
        "paperzoo_gg_prior.rf8:RF8FakeQuantLinear",
        "Linear whose weights are fake-quantised to RF8, the sum of their first two powers of two.",
        paper=PAPER,
        tags=("quantization", "fake_quant", "8bit"),
        example={"max_gap": 4},
        example_input=[2, 8],
        example_base={"type": "Linear", "args": [8, 16]},
    )


@hookimpl
def register_trainers(register):
    register(
        "deepshape_regularizer",
        "paperzoo_gg_prior.deepshape:DeepShapeRegularizer",
        "Supervised fine-tuning plus a generalised Gaussian prior on the weights (DeepShape), for pruning.",
        paper=PAPER,
        tags=("regularization", "compression", "generalized_gaussian"),
        example={"strength": 1.0, "max_steps": 2, "batch_size": 8, "progress": False},
    )
