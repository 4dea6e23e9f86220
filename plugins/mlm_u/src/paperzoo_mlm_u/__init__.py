"""Transformers Can Navigate Mazes With Multi-Step Prediction (Nolte et al., 2024), arXiv:2412.05117.

Registration only: nothing heavy is imported here. The plain functions live in ``paperzoo_mlm_u.mazes``
(generation, shortest paths, tokens, legality) and ``paperzoo_mlm_u.mlmu`` (the masking and the loss).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Transformers Can Navigate Mazes With Multi-Step Prediction", year=2024, arxiv="2412.05117"
)

_MAZES = {"name": "mlm_u_mazes", "grid_n": 3, "n_mazes": 24}
_TINY_ENCODER = {"name": "tinylm_encoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "vocab_size": 20}
_TINY_RUN = {
    "data": dict(_MAZES),
    "model": dict(_TINY_ENCODER, max_seq_len=64),
    "optimizer": {"name": "adamw", "lr": 1.0e-3},
    "evaluators": [],
}


@hookimpl
def register_trainers(register):
    register(
        "mlm_u",
        "paperzoo_mlm_u.trainer:MLMU",
        "MLM-U on a bidirectional encoder: mask the path with a rate drawn uniformly per sequence and "
        "predict every masked token (multi-step, forward and backward); masked tokens hidden from attention.",
        paper=PAPER,
        tags=("objective", "planning", "masked_language_modeling", "tinylm"),
        example={"max_steps": 3, "batch_size": 8, "progress": False},
        example_config=_TINY_RUN,
    )


@hookimpl
def register_evaluators(register):
    register(
        "maze_navigation",
        "paperzoo_mlm_u.evaluator:MazeNavigation",
        "Greedy path decoding on validation mazes (left-to-right unmasking for encoders, next-token for "
        "decoders): exact shortest-path accuracy, legal-path rate and token accuracy.",
        paper=PAPER,
        tags=("planning", "navigation", "generation"),
        example={"n_mazes": 4, "batch_size": 2},
        example_config=_TINY_RUN,
    )


@hookimpl
def register_datasets(register):
    register(
        "mlm_u_mazes",
        "paperzoo_mlm_u.data:mlm_u_mazes",
        "Solved DFS mazes on an n x n lattice in the paper's token format (adjacency list, origin, target, "
        "shortest path); targets on the path only.",
        paper=PAPER,
        tags=("planning", "navigation", "synthetic", "language_modeling"),
        example={"grid_n": 3, "n_mazes": 24},
    )
