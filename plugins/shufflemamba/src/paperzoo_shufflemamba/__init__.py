"""Stochastic Layer-Wise Shuffle: A Good Practice to Improve Vision Mamba Training (Huang et al., 2024),
arXiv:2408.17081. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Stochastic Layer-Wise Shuffle: A Good Practice to Improve Vision Mamba Training",
    year=2024,
    arxiv="2408.17081",
)


@hookimpl
def register_layers(register):
    register(
        "stochastic_layer_shuffle",
        "paperzoo_shufflemamba.shuffle:StochasticLayerShuffle",
        "Training-only wrapper: runs a sequence layer on randomly permuted tokens with probability p, "
        "then restores the order; identity in eval.",
        paper=PAPER,
        tags=("regularization", "sequence_mixer", "mamba", "vision"),
        example={"prob": 1.0, "seed": 0},
        example_input=[2, 6, 16],
        example_base={"type": "Linear", "args": [16, 16]},
    )
    register(
        "shufflemamba_vision_mamba",
        "paperzoo_shufflemamba.model:ShuffleVisionMamba",
        "A tiny vision Mamba (patches, Mamba blocks, mean pooling) whose blocks use the stochastic layer-wise shuffle.",
        paper=PAPER,
        tags=("model", "vision", "mamba", "classification"),
        example={"dim": 16, "depth": 2, "d_state": 4, "shuffle_rate": 0.5},
        example_input=[2, 1, 8, 8],
    )
