"""Softplus Attention with Re-weighting Boosts Length Extrapolation in Large Language Models (Gao and
Spratling, 2025), arXiv:2501.13428. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Softplus Attention with Re-weighting Boosts Length Extrapolation in Large Language Models",
    year=2025,
    arxiv="2501.13428",
)


@hookimpl
def register_layers(register):
    register(
        "softplus_attention",
        "paperzoo_softplus_attention.kernel:SoftplusAttention",
        "Length-scaled softplus attention (LSSA): softplus(log d log N cos(q, k)) over visible keys, "
        "l1-normalised, optional re-weighting (LSSAR); a tinylm attention kernel.",
        paper=PAPER,
        tags=("attention", "softmax_free", "length_extrapolation"),
        example={"p": 15.0},
        example_input=[2, 2, 6, 8],
    )
    register(
        "attention_reweighting",
        "paperzoo_softplus_attention.kernel:AttentionReweighting",
        "Fine-tuning-free sharpening of row-normalised attention weights: ReLU(A N - 1)^p, renormalised "
        "(on softplus or softmax attention).",
        paper=PAPER,
        tags=("attention", "length_extrapolation"),
        example={"p": 3.0},
        example_input=[2, 2, 6, 6],
    )
