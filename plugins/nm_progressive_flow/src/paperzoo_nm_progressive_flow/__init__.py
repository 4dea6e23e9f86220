"""Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers (Bambhaniya et al., 2024),
arXiv:2402.04744. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Progressive Gradient Flow for Robust N:M Sparsity Training in Transformers",
    year=2024,
    arxiv="2402.04744",
)

_MLP = {
    "data": {"name": "synthetic_classification", "n_samples": 64, "n_features": 16, "num_classes": 4},
    "model": {"name": "mlp", "in_features": 16, "num_classes": 4, "hidden": [32]},
}


@hookimpl
def register_layers(register):
    register(
        "nm_sparse_linear",
        "paperzoo_nm_progressive_flow.layer:NMSparseLinear",
        "Linear computing with a magnitude N:M sparse weight recomputed each forward; pruned weights get a "
        "decayed mask value (MDGF) or decayed gradient, or SR-STE's term.",
        paper=PAPER,
        tags=("sparsity", "n:m", "compression", "linear"),
        example={"n": 2, "m": 4, "beta": 0.5},
        example_base={"type": "Linear", "args": [16, 32]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "nm_progressive_gradient_flow",
        "paperzoo_nm_progressive_flow.trainer:NMProgressiveGradientFlow",
        "N:M sparse training that progressively restricts gradient flow to pruned weights: mask decay "
        "(MDGF), structure decay (SDGF), or the SR-STE / STE baselines; reports gradient-norm variance.",
        paper=PAPER,
        tags=("sparsity", "n:m", "compression", "sparse_training"),
        example={
            "n": 1,
            "m": 8,
            "method": "mdgf",
            "decay_coef": 0.5,
            "max_steps": 3,
            "batch_size": 16,
            "progress": False,
        },
        example_config={
            **_MLP,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
