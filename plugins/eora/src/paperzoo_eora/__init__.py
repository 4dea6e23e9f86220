"""EoRA: Training-free Compensation for Compressed LLM with Eigenspace Low-Rank Approximation (Liu,
Khadkevich, Fung, Sakr, Yang, Wang, Muralidharan, Yin, Cheng, Kautz, Wang, Molchanov, Chen; 2024),
arXiv:2410.21271.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="EoRA: Training-free Compensation for Compressed LLM with Eigenspace Low-Rank Approximation",
    year=2024,
    arxiv="2410.21271",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_layers(register):
    register(
        "eora_linear",
        "paperzoo_eora.layer:EoRALinear",
        "A compressed linear layer plus a rank-r compensation path, y = W'x + B(Ax); compensate_(dW, X X^T) "
        "sets B, A to EoRA's eigenspace-weighted low-rank approximation of the compression error.",
        paper=PAPER,
        tags=("quantization", "compression", "pruning", "low-rank", "linear"),
        example={"rank": 4},
        example_base={"type": "Linear", "args": [16, 32]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "eora_compensation",
        "paperzoo_eora.trainer:EoRACompensation",
        "Supervised training, then round-to-nearest and/or 2:4 pruning of every block Linear and EoRA's "
        "training-free rank-r compensation (SVD of dW Q', Q' = Q L^(1/2) from the calibration X X^T).",
        paper=PAPER,
        tags=("quantization", "compression", "pruning", "low-rank", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 3,
            "group_size": -1,
            "rank": 4,
            "compression": "prune+quant",
            "calib_batches": 1,
            "eval_batches": 1,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
