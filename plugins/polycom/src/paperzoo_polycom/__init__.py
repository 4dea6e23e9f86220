"""Polynomial Composition Activations: Unleashing the Dynamics of Large Language Models (Zhuo et al.,
ICLR 2025), arXiv:2411.03884. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Polynomial Composition Activations: Unleashing the Dynamics of Large Language Models",
    year=2025,
    arxiv="2411.03884",
)


@hookimpl
def register_layers(register):
    register(
        "polyrelu",
        "paperzoo_polycom.polycom:PolyReLU",
        "PolyReLU activation: sum_i a_i ReLU(x)^i, i = 0..3, learnable a_i; a drop-in FFN activation.",
        paper=PAPER,
        tags=("activation", "transformer", "ffn"),
        example={"order": 3},
        example_input=[2, 5, 16],
    )
    register(
        "polynorm",
        "paperzoo_polycom.polycom:PolyNorm",
        "PolyNorm activation: sum_i a_i N(x^i), i = 0..3, N an RMS normalisation, learnable a_i; "
        "a drop-in FFN activation.",
        paper=PAPER,
        tags=("activation", "transformer", "ffn"),
        example={"order": 3, "eps": 1e-6},
        example_input=[2, 5, 16],
    )
