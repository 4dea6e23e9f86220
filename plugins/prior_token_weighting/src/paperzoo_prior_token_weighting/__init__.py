"""Prioritizing Image-Related Tokens Enhances Vision-Language Pre-Training (Chen et al., 2025),
arXiv:2505.08971. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Prioritizing Image-Related Tokens Enhances Vision-Language Pre-Training",
    year=2025,
    arxiv="2505.08971",
)

_SMALL_LM = {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32}


@hookimpl
def register_trainers(register):
    register(
        "prior_weighted_ntp",
        "paperzoo_prior_token_weighting.trainer:PriorWeightedNTP",
        "PRIOR: next-token prediction whose per-token losses are weighted by (1 - p_ref)^alpha, p_ref "
        "the probability of a text-only reference LM (trained first on the same text), clipped and "
        "normalised to mean 1 over the batch: tokens the text alone cannot predict count more.",
        paper=PAPER,
        tags=("language_modeling", "vision_language", "token_weighting", "importance_sampling", "tinylm"),
        example={
            "alpha": 1.0,
            "reference_model": {"d_model": 16, "n_layers": 1, "n_heads": 2},
            "reference_steps": 2,
            "reference_batch": 4,
            "max_steps": 2,
            "batch_size": 4,
            "progress": False,
        },
        example_config={
            "data": {"name": "tinylm_copy", "n_samples": 32, "length": 4},
            "model": dict(_SMALL_LM),
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
