"""Q-VLM: Post-training Quantization for Large Vision-Language Models (C. Wang, Z. Wang, X. Xu, Y. Tang, J. Zhou, J. Lu; NeurIPS
2024), arXiv:2410.08119.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Q-VLM: Post-training Quantization for Large Vision-Language Models", year=2024, arxiv="2410.08119"
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_trainers(register):
    register(
        "qvlm_ptq",
        "paperzoo_q_vlm.trainer:QVLMPTQ",
        "Supervised training, then Q-VLM W-A post-training quantisation: layers partitioned into blocks by "
        "an activation-entropy threshold, weight and activation clipping searched jointly inside each block "
        "against the block output.",
        paper=PAPER,
        tags=("quantization", "compression", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 4,
            "a_bits": 4,
            "calib_batches": 1,
            "eval_batches": 1,
            "sweeps": 1,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
