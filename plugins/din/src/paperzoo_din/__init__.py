"""Deep Interest Network for Click-Through Rate Prediction (Zhou, Song, Zhu et al., 2018), arXiv:1706.06978.

Registration only: nothing heavy is imported here.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Deep Interest Network for Click-Through Rate Prediction", year=2018, arxiv="1706.06978")


@hookimpl
def register_layers(register):
    register(
        "din_activation_unit",
        "paperzoo_din.attention:DinActivationUnit",
        "DIN's local activation unit: weights MLP([e_i, e_a, e_i - e_a, e_i * e_a]) per behaviour, no softmax, "
        "padding masked; returns sum_i w_i e_i.",
        paper=PAPER,
        tags=("ctr", "attention", "recommendation"),
        example={"embedding_dim": 4, "hidden": [8]},
        example_input=[3, 1 + 5, 4],
    )
    register(
        "din_dice",
        "paperzoo_din.dice:DinDice",
        "Dice: p(s) s + (1 - p(s)) alpha s with p the sigmoid of s standardised by batch (train) or running "
        "(eval) statistics.",
        paper=PAPER,
        tags=("activation", "ctr"),
        example={"num_features": 8},
        example_input=[6, 8],
    )
    register(
        "din_model",
        "paperzoo_din.model:DinModel",
        "Deep Interest Network: field embeddings, behaviours pooled by the local activation unit against the "
        "candidate item, MLP with Dice; packed ids in, 2-class logits [0, z] out.",
        paper=PAPER,
        tags=("ctr", "recommendation", "model"),
        example={"vocab_sizes": [5, 20, 4], "embedding_dim": 4, "hidden": [8], "attention_hidden": [8]},
        example_input={"shape": [4, 3 + 6], "dtype": "long", "high": 4},
    )
