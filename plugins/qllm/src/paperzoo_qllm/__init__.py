"""QLLM: Accurate and Efficient Low-Bitwidth Quantization for Large Language Models (Liu, Gong, Wei, Dong,
Cai, Zhuang; ICLR 2024), arXiv:2310.08041.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="QLLM: Accurate and Efficient Low-Bitwidth Quantization for Large Language Models",
    year=2024,
    arxiv="2310.08041",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}
_CONFIG = {**_TINY, "optimizer": {"name": "adamw", "lr": 1.0e-3}, "evaluators": [{"name": "loss"}]}
_BASE = {
    "max_steps": 2,
    "batch_size": 4,
    "bits": 4,
    "a_bits": 4,
    "calib_batches": 1,
    "eval_batches": 1,
    "progress": False,
}
_TAGS = ("quantization", "compression", "tinylm", "w4a4")


@hookimpl
def register_trainers(register):
    register(
        "channel_reassembly",
        "paperzoo_qllm.trainer:ChannelReassemblyPTQ",
        "Supervised training, then QLLM's adaptive channel reassembly (outlier channels disassembled into "
        "sub-channels, the most similar channel pairs assembled back, the threshold searched to minimise "
        "the quantised output error) and W-A round-to-nearest (per-channel weights, per-token activations).",
        paper=PAPER,
        tags=_TAGS,
        example=_BASE,
        example_config=_CONFIG,
    )
    register(
        "qllm_lowrank_tuning",
        "paperzoo_qllm.trainer:LowRankTuningPTQ",
        "channel_reassembly, then QLLM's block-wise low-rank tuning: LoRA over the frozen quantised "
        "weights of each block trained to the float block's output, merged and re-quantised.",
        paper=PAPER,
        tags=_TAGS,
        example={**_BASE, "tune_steps": 2, "tune_batch": 2, "lora_rank": 2},
        example_config=_CONFIG,
    )
