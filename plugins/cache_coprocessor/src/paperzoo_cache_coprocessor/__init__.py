"""Deliberation in Latent Space via Differentiable Cache Augmentation (Liu, Pfeiffer, Wu, Xie and Szlam,
2024), arXiv:2412.17747. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Deliberation in Latent Space via Differentiable Cache Augmentation", year=2024, arxiv="2412.17747"
)

_DECODER = {"d_model": 16, "n_layers": 1, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32}


@hookimpl
def register_layers(register):
    register(
        "kv_cache_coprocessor",
        "paperzoo_cache_coprocessor.coprocessor:KVCacheCoprocessor",
        "A frozen tinylm decoder whose kv-cache a trainable coprocessor (initialised from it) augments with "
        "N latent embeddings computed from N learned soft tokens.",
        paper=PAPER,
        tags=("language_modeling", "latent_reasoning", "kv_cache", "tinylm"),
        example={"n_latents": 2, **_DECODER},
        example_input={"shape": [2, 8], "dtype": "long", "high": 64},
    )


@hookimpl
def register_trainers(register):
    register(
        "coprocessor_training",
        "paperzoo_cache_coprocessor.trainer:CoprocessorTraining",
        "Trains a kv_cache_coprocessor (coprocessor and soft tokens; decoder frozen) with the LM loss on the "
        "tokens that follow random split points, optionally after pre-training the decoder.",
        paper=PAPER,
        tags=("language_modeling", "latent_reasoning", "tinylm"),
        example={
            "ahead": 4,
            "n_splits": 2,
            "decoder_steps": 2,
            "max_steps": 3,
            "batch_size": 4,
            "progress": False,
        },
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
            "model": {
                "name": "kv_cache_coprocessor",
                "n_latents": 2,
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "max_seq_len": 32,
            },
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
