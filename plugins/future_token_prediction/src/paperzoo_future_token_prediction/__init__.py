"""Future Token Prediction -- Causal Language Modelling with Per-Token Semantic State Vector for
Multi-Token Prediction (Walker, 2024), arXiv:2410.18160. Registration only: nothing heavy is imported
here.

``ftp_head`` maps each position's top embedding to a pseudo-sequence and decodes the next N tokens from
it; ``future_token_prediction`` trains a tinylm decoder trunk with that head's loss.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Future Token Prediction -- Causal Language Modelling with Per-Token Semantic State Vector "
    "for Multi-Token Prediction",
    year=2024,
    arxiv="2410.18160",
)


@hookimpl
def register_layers(register):
    register(
        "ftp_head",
        "paperzoo_future_token_prediction.ftp:FTPHead",
        "FTP head: a linear expansion of each position's embedding into k vectors, read through "
        "cross-attention by a small causal decoder that predicts the tokens t+1..t+N.",
        paper=PAPER,
        tags=("language_modeling", "multi_token_prediction", "tinylm"),
        example={"d_model": 8, "vocab_size": 11, "n_future": 3, "k": 2, "n_layers": 1, "n_heads": 2},
        example_input=[2, 5, 8],
    )


@hookimpl
def register_trainers(register):
    register(
        "future_token_prediction",
        "paperzoo_future_token_prediction.trainer:FutureTokenPredictionTrainer",
        "Future Token Prediction: a tinylm decoder trunk trained through the FTP head's loss over the "
        "N future tokens of every position (optionally geometrically decayed).",
        paper=PAPER,
        tags=("language_modeling", "objective", "multi_token_prediction", "tinylm"),
        example={"max_steps": 2, "batch_size": 4, "progress": False, "n_future": 3, "k": 2},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 24, "max_bytes": 4000},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "max_seq_len": 64,
            },
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
        },
    )
