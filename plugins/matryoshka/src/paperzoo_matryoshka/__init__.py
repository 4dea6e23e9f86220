"""Matryoshka Representation Learning (Kusupati, Bhatt, Rege, Wallingford, Sinha, Ramanujan,
Howard-Snyder, Chen, Kakade, Jain, Farhadi; NeurIPS 2022), arXiv:2205.13147.

Registration only: the implementation is imported when a component is built.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Matryoshka Representation Learning", year=2022, arxiv="2205.13147")

_MODEL = {
    "name": "matryoshka_head",
    "in_features": 16,
    "num_classes": 3,
    "dims": [4, 8, 16],
    "encoder_in_features": 8,
    "encoder_hidden": [16],
}


@hookimpl
def register_layers(register):
    register(
        "matryoshka_head",
        "paperzoo_matryoshka.head:MatryoshkaHead",
        "Linear classifiers on the nested prefixes z[:m] of an embedding (MRL-E: one shared weight, "
        "W_m = W[:, :m]), optionally behind an MLP encoder.",
        paper=PAPER,
        tags=("head", "nested", "representation"),
        example={"in_features": 16, "num_classes": 4, "dims": [4, 8, 16]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "matryoshka_loss",
        "paperzoo_matryoshka.trainer:MatryoshkaTrainer",
        "The supervised loop with the Matryoshka loss sum_m c_m CE(W_m z[:m], y) on the model's "
        "matryoshka_head.",
        paper=PAPER,
        tags=("nested", "representation", "loss"),
        example={"epochs": 1, "batch_size": 16, "progress": False},
        example_config={"model": _MODEL},
    )


@hookimpl
def register_evaluators(register):
    register(
        "nested_dim_accuracy",
        "paperzoo_matryoshka.evaluate:NestedDimAccuracy",
        "Classification accuracy of the model's head at each truncation dim of its embedding "
        "(any final linear layer: the zero-padded truncation).",
        paper=PAPER,
        tags=("metric", "nested", "accuracy"),
        example={"dims": [4, 8, 16]},
        example_config={"model": _MODEL},
    )
