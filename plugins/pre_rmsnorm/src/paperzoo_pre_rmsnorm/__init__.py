"""Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers (Jiang et al.,
NeurIPS 2023), arXiv:2305.14858."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers",
    year=2023,
    arxiv="2305.14858",
)


@hookimpl
def register_layers(register):
    register(
        "crms_norm",
        "paperzoo_pre_rmsnorm.layer:CRMSNorm",
        "Compressed RMSNorm: RMSNorm of a zero-mean vector stored as its first d-1 coordinates.",
        paper=PAPER,
        tags=("normalization", "transformer", "rmsnorm"),
        example={"dim": 7},
        example_input=[2, 5, 7],
    )


@hookimpl
def register_trainers(register):
    register(
        "pre_rmsnorm_converter",
        "paperzoo_pre_rmsnorm.trainer:PreRMSNormConverter",
        "Train a Pre-LN tinylm decoder, convert it to the equivalent Pre-RMSNorm or Pre-CRMSNorm decoder "
        "and evaluate the converted model (reports the logit difference).",
        paper=PAPER,
        tags=("normalization", "conversion", "rmsnorm", "tinylm"),
        example={"target": "crms_norm", "max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "stdlib_text", "seq_len": 16, "max_bytes": 4000},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "vocab_size": 256,
                "max_seq_len": 16,
                "norm": "layer_norm",
            },
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "perplexity"}],
        },
    )
