"""Unified Normalization for Accelerating and Stabilizing Transformers (Yang et al., ACM MM 2022),
arXiv:2208.01313. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Unified Normalization for Accelerating and Stabilizing Transformers", year=2022, arxiv="2208.01313"
)


@hookimpl
def register_layers(register):
    register(
        "unified_norm",
        "paperzoo_unified_norm.unified_norm:UnifiedNorm",
        "Unified Normalization: batch x token quadratic-mean statistics smoothed over a window of recent "
        "iterations (forward and backward), optional outlier filtration, a foldable affine at inference; "
        "replaces LayerNorm in transformers.",
        paper=PAPER,
        tags=("normalization", "transformer", "layernorm_replacement"),
        example={"window": 2, "warmup_iters": 1},
        example_input=[2, 5, 8],
        example_base={"type": "LayerNorm", "args": [8]},
    )
