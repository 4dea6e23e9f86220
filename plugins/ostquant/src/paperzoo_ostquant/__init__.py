"""OSTQuant: Refining Large Language Model Quantization with Orthogonal and Scaling Transformations for
Better Distribution Fitting (Hu, Cheng, Yang, Xu, Yuan, Yu, Xu, Jiang, Zhou; ICLR 2025),
arXiv:2501.13987.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="OSTQuant: Refining Large Language Model Quantization with Orthogonal and Scaling "
    "Transformations for Better Distribution Fitting",
    year=2025,
    arxiv="2501.13987",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_trainers(register):
    register(
        "ostquant_ptq",
        "paperzoo_ostquant.trainer:OSTQuantPTQ",
        "Supervised training, then OSTQuant: a residual rotation, per-head value rotations and per-channel "
        "scales learnt with the KL-Top loss through W-A fake quantisation (Cayley SGD), then W4A4 "
        "round-to-nearest (per-channel weights, per-token activations).",
        paper=PAPER,
        tags=("quantization", "compression", "tinylm", "rotation"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 4,
            "a_bits": 4,
            "calib_batches": 1,
            "eval_batches": 1,
            "ost_steps": 2,
            "ost_batch": 2,
            "top_k": 8,
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
        "qsur",
        "paperzoo_ostquant.evaluators:QSUR",
        "Quantization Space Utilization Rate of every block Linear's input on validation data: the "
        "Gaussian ellipsoid's volume over the per-token quantisation hypercube's (per-dimension root, and log).",
        paper=PAPER,
        tags=("quantization", "metric", "tinylm"),
        example={"max_tokens": 256},
        example_config=_TINY,
    )
