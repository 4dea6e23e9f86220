"""EMO: Earth Mover Distance Optimization for Auto-Regressive Language Modeling (Ren et al., ICLR 2024),
arXiv:2310.04691. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="EMO: Earth Mover Distance Optimization for Auto-Regressive Language Modeling",
    year=2024,
    arxiv="2310.04691",
)


@hookimpl
def register_trainers(register):
    register(
        "emo_loss",
        "paperzoo_emo.trainer:EMOTrainer",
        "Train a language model with EMO's loss: cross-entropy plus the differentiable Earth Mover "
        "Distance to the one-hot target under the cosine cost of frozen LM-head embeddings, weighted "
        "dynamically as the official code does.",
        paper=PAPER,
        tags=("language_modeling", "loss", "earth_mover_distance", "tinylm"),
        example={"mode": 1, "max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "max_seq_len": 16,
            },
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "perplexity"}],
        },
    )
