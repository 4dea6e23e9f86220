"""Transformers Don't Need LayerNorm at Inference Time: Scaling LayerNorm Removal to GPT-2 XL and the
Implications for Mechanistic Interpretability (Baroni et al., 2025), arXiv:2507.02559.
Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Transformers Don't Need LayerNorm at Inference Time: Scaling LayerNorm Removal to GPT-2 XL and "
    "the Implications for Mechanistic Interpretability",
    year=2025,
    arxiv="2507.02559",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {
        "name": "tinylm_decoder",
        "d_model": 16,
        "n_layers": 1,
        "n_heads": 2,
        "max_seq_len": 16,
        "norm": "layer_norm",
        "bias": True,
    },
}


@hookimpl
def register_trainers(register):
    register(
        "ln_removal_finetune",
        "paperzoo_ln_removal.trainer:LNRemovalFinetune",
        "LM fine-tuning that removes a pre-norm decoder's LayerNorms one at a time (MLP, attention, final), "
        "each frozen to (x - mean) / sigma_avg * gamma + beta.",
        paper=PAPER,
        tags=("normalization", "interpretability", "tinylm"),
        example={
            "start": 0,
            "gap": 1,
            "max_steps": 5,
            "batch_size": 4,
            "calibrate_batches": 1,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )


@hookimpl
def register_evaluators(register):
    register(
        "ln_removal_dla",
        "paperzoo_ln_removal.dla:LNRemovalDLA",
        "Direct logit attribution of each residual-stream component (tinylm hook names) and the error of "
        "their sum against the logits (exact once every norm is removed).",
        paper=PAPER,
        tags=("interpretability", "language_modeling", "tinylm"),
        example={"batch_size": 4},
        example_config=_TINY,
    )
