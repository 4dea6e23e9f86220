"""CBQ: Cross-Block Quantization for Large Language Models (Ding, Liu, Tu, Zhang, Li, Hu, Chen, Tang,
Xiong, Yin, Wang; ICLR 2025), arXiv:2312.07950.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="CBQ: Cross-Block Quantization for Large Language Models", year=2025, arxiv="2312.07950")

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_trainers(register):
    register(
        "cbq_ptq",
        "paperzoo_cbq.trainer:CBQQuantize",
        "Supervised training, then CBQ: coarse-to-fine outlier preprocessing and sliding-window "
        "cross-block reconstruction of every block Linear with low-rank LoRA-Rounding (weight-only).",
        paper=PAPER,
        tags=("quantization", "compression", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 4,
            "group_size": 8,
            "calib_batches": 1,
            "eval_batches": 1,
            "recon_steps": 2,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
