"""The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks (Frankle & Carbin, 2019),
arXiv:1803.03635; rewinding to an early iteration from Frankle et al. (2020), arXiv:1912.05671."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks",
    year=2019,
    arxiv="1803.03635",
)


@hookimpl
def register_trainers(register):
    register(
        "iterative_magnitude_pruning",
        "paperzoo_lottery_ticket.trainer:IterativeMagnitudePruning",
        "Lottery-ticket search: train, prune the smallest surviving weights layer-wise, rewind survivors "
        "to theta_0 (or step k), repeat; optional random-reinit control.",
        paper=PAPER,
        tags=("pruning", "sparsity", "lottery_ticket", "rewinding"),
        example={
            "rounds": 2,
            "rate": 0.5,
            "output_rate": 0.25,
            "rewind_step": 1,
            "control": "random_reinit",
            "epochs": 1,
            "batch_size": 16,
            "progress": False,
        },
    )
