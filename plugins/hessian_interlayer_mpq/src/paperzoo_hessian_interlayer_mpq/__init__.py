"""Augmenting Hessians with Inter-Layer Dependencies for Mixed-Precision Post-Training Quantization
(Schaefer et al., 2023), arXiv:2306.04879. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Augmenting Hessians with Inter-Layer Dependencies for Mixed-Precision Post-Training Quantization",
    year=2023,
    arxiv="2306.04879",
)


@hookimpl
def register_trainers(register):
    register(
        "mixed_precision_ptq",
        "paperzoo_hessian_interlayer_mpq.ptq:MixedPrecisionPTQ",
        "Train, then mixed-precision weight PTQ: rank layers by Hutchinson Hessian + inter-layer dependency "
        "sensitivity and bisect how many top layers stay high precision within an accuracy tolerance.",
        paper=PAPER,
        tags=("quantization", "compression", "mixed_precision"),
        example={"max_steps": 2, "batch_size": 16, "n_samples": 2, "calib_batches": 1, "progress": False},
    )


@hookimpl
def register_evaluators(register):
    register(
        "layer_sensitivity",
        "paperzoo_hessian_interlayer_mpq.evaluator:LayerSensitivity",
        "Per-layer quantisation sensitivity: Hutchinson Hessian traces, inter-layer dependency terms, and "
        "the rank agreement of Hessian-only and augmented orderings.",
        paper=PAPER,
        tags=("quantization", "hessian", "analysis"),
        example={"n_samples": 2, "batch_size": 16},
    )
