"""AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration (Lin, Tang, Tang, Yang,
Chen, Wang, Xiao, Dang, Gan, Han; MLSys 2024), arXiv:2306.00978.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration",
    year=2024,
    arxiv="2306.00978",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_layers(register):
    register(
        "fake_quant_linear_wint",
        "paperzoo_awq.layer:FakeQuantLinearWInt",
        "Weight-only INT-b fake-quantised Linear with AWQ's activation-aware input-channel scale "
        "(x / s) @ Q(W diag(s))^T; calibrate(x) searches s = s_x^alpha.",
        paper=PAPER,
        tags=("quantization", "compression", "linear"),
        example={"bits": 4, "group_size": 8},
        example_base={"type": "Linear", "args": [16, 32]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "awq_quantize",
        "paperzoo_awq.trainer:AWQQuantize",
        "Supervised training, then AWQ: per-channel scale search (s = s_x^alpha) folded into the previous "
        "op, clipping search, group-wise asymmetric round-to-nearest of every block Linear.",
        paper=PAPER,
        tags=("quantization", "compression", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 4,
            "group_size": 8,
            "calib_batches": 1,
            "eval_batches": 1,
            "n_grid": 4,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
