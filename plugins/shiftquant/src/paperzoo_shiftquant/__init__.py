"""Towards Accurate and Efficient Sub-8-Bit Integer Training (Guo, Liu, Xie, Li, Meng, Ning, Zeng,
Wang, Lei, Fang; 2024), arXiv:2411.10948. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Towards Accurate and Efficient Sub-8-Bit Integer Training", year=2024, arxiv="2411.10948"
)

TAGS = ("quantization", "low_precision_training")


@hookimpl
def register_layers(register):
    register(
        "shiftquant_linear",
        "paperzoo_shiftquant.linear:ShiftQuantLinear",
        "Linear with ShiftQuant fake-quantised weights/inputs (STE) and a ShiftQuant-quantised output "
        "gradient (power-of-two group scales, stochastic rounding).",
        paper=PAPER,
        tags=TAGS,
        example={"bits": 4, "num_groups": 8},
        example_input=[2, 8],
        example_base={"type": "Linear", "args": [8, 16]},
    )
    register(
        "l1_norm",
        "paperzoo_shiftquant.norm:L1Norm",
        "LayerNorm replacement normalising by sqrt(pi/2) times the mean absolute deviation.",
        paper=PAPER,
        tags=("normalization", *TAGS),
        example={},
        example_input=[2, 8],
        example_base={"type": "LayerNorm", "args": [8]},
    )


@hookimpl
def register_trainers(register):
    register(
        "int_training",
        "paperzoo_shiftquant.trainer:IntTraining",
        "Supervised training with every Linear turned into shiftquant_linear and every LayerNorm "
        "into l1_norm (sub-8-bit integer training, simulated).",
        paper=PAPER,
        tags=TAGS,
        example={"bits": 4, "epochs": 1, "batch_size": 64, "progress": False},
    )
