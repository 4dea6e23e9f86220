"""JLCM: Network Memory Footprint Compression Through Jointly Learnable Codebooks and Mappings (Yvinec,
Dapogny, Bailly; ICLR 2024), arXiv:2309.17361.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Network Memory Footprint Compression Through Jointly Learnable Codebooks and Mappings",
    year=2024,
    arxiv="2309.17361",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_trainers(register):
    register(
        "jlcm_quantize",
        "paperzoo_jlcm.trainer:JLCMQuantize",
        "Supervised training, then JLCM of every block Linear: rows grouped by spread, a k-means codebook "
        "of 2^bits values per group, then codebooks and mappings learned jointly (proximal STE).",
        paper=PAPER,
        tags=("quantization", "compression", "codebook", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "bits": 3,
            "n_groups": 4,
            "steps": 3,
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
