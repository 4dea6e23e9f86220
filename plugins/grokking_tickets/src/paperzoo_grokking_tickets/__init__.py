"""Grokking Tickets: Lottery Tickets Accelerate Grokking (Minegishi, Iwasawa, Matsuo, 2023),
arXiv:2310.19470.

Registration only: the implementation is imported when a component is built.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Grokking Tickets: Lottery Tickets Accelerate Grokking",
    year=2023,
    arxiv="2310.19470",
)

_TINY_ADDITION = {
    "data": {"name": "grokking_modular_addition", "modulus": 7, "train_fraction": 0.5},
    "model": {"name": "grokking_mlp", "modulus": 7, "d_emb": 8, "d_model": 6},
    "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 1.0},
}


@hookimpl
def register_trainers(register):
    register(
        "grokking_ticket",
        "paperzoo_grokking_tickets.trainer:GrokkingTicket",
        "Train dense to generalisation, prune globally by magnitude, rewind survivors to theta_0 and "
        "retrain; controls: the dense run and a norm-matched dense run; steps to a target test accuracy.",
        paper=PAPER,
        tags=("pruning", "lottery_ticket", "grokking", "rewinding"),
        example={"rate": 0.5, "max_steps": 4, "batch_size": 16, "eval_every": 2, "progress": False},
        example_config=_TINY_ADDITION,
    )


@hookimpl
def register_layers(register):
    register(
        "grokking_mlp",
        "paperzoo_grokking_tickets.model:GrokkingMLP",
        "The paper's MLP on two tokens: embed, project, sum, ReLU, project back, unembed (no biases).",
        paper=PAPER,
        tags=("model", "grokking", "modular_arithmetic"),
        example={"modulus": 11, "d_emb": 16, "d_model": 8},
        example_input={"shape": [4, 2], "dtype": "long", "high": 11},
    )


@hookimpl
def register_datasets(register):
    register(
        "grokking_modular_addition",
        "paperzoo_grokking_tickets.model:modular_addition",
        "(a, b) -> (a + b) mod p over all pairs, the official random split (train fraction; rest is val).",
        paper=PAPER,
        tags=("grokking", "modular_arithmetic", "synthetic"),
        example={"modulus": 11, "train_fraction": 0.4},
    )
