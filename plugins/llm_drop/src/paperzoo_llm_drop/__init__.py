"""What Matters in Transformers? Not All Attention is Needed (He, Sun, Shen, Li; 2024), arXiv:2406.15786.

Module similarity ``cos(X, X + f(X))`` on calibration data and one-shot dropping of the most redundant
attention sublayers (Attention Drop) or attention and MLP sublayers ranked together (Joint Drop) of a
tinylm decoder. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="What Matters in Transformers? Not All Attention is Needed",
    year=2024,
    arxiv="2406.15786",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 16},
}
_TRAINER_EXAMPLE = {
    "max_steps": 2,
    "batch_size": 4,
    "drop_n": 1,
    "calib_batches": 1,
    "eval_batches": 1,
    "progress": False,
}
_TRAINER_CONFIG = {**_TINY, "optimizer": {"name": "adamw", "lr": 1.0e-3}, "evaluators": [{"name": "loss"}]}


@hookimpl
def register_evaluators(register):
    register(
        "layer_redundancy_similarity",
        "paperzoo_llm_drop.evaluator:LayerRedundancySimilarity",
        "Per-module redundancy cos(X, X + f(X)) of every attention, MLP and block of a tinylm model "
        "(importance = 1 - similarity), summarised.",
        paper=PAPER,
        tags=("compression", "pruning", "analysis", "tinylm"),
        example={"batch_size": 4},
        example_config=_TINY,
    )


@hookimpl
def register_trainers(register):
    register(
        "attention_drop",
        "paperzoo_llm_drop.trainer:AttentionDrop",
        "Supervised training, then Attention Drop: skip the drop_n attention sublayers whose output "
        "changes the residual stream least (highest cos(X, X + attn(X))), one-shot, no retraining.",
        paper=PAPER,
        tags=("compression", "pruning", "tinylm"),
        example=_TRAINER_EXAMPLE,
        example_config=_TRAINER_CONFIG,
    )
    register(
        "joint_layer_drop",
        "paperzoo_llm_drop.trainer:JointLayerDrop",
        "Supervised training, then Joint Drop: rank attention and MLP sublayers together by "
        "cos(X, X + f(X)) and skip the drop_n most redundant, one-shot, no retraining.",
        paper=PAPER,
        tags=("compression", "pruning", "tinylm"),
        example=_TRAINER_EXAMPLE,
        example_config=_TRAINER_CONFIG,
    )
