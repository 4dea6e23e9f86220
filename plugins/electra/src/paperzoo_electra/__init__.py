"""ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators (Clark et al., 2020),
arXiv:2003.10555. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="ELECTRA: Pre-training Text Encoders as Discriminators Rather Than Generators",
    year=2020,
    arxiv="2003.10555",
)

_TINY_MODEL = {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32, "generator_size": 0.5}


@hookimpl
def register_layers(register):
    register(
        "electra_generator_discriminator",
        "paperzoo_electra.model:ElectraGeneratorDiscriminator",
        "ELECTRA's small MLM generator and replaced-token-detection discriminator (tinylm encoders sharing "
        "token embeddings); forward returns the pre-training loss first, discriminate/encode for downstream.",
        paper=PAPER,
        tags=("model", "language_modeling", "encoder", "pretraining", "tinylm"),
        example=dict(_TINY_MODEL),
        example_input={"shape": [2, 12], "dtype": "long", "high": 256},
    )


@hookimpl
def register_trainers(register):
    register(
        "replaced_token_detection",
        "paperzoo_electra.trainer:ReplacedTokenDetection",
        "ELECTRA pre-training in the supervised loop: generator MLM loss + 50 x the discriminator's "
        "replaced-token-detection loss, masking and sampling from a seeded generator.",
        paper=PAPER,
        tags=("pretraining", "language_modeling", "tinylm"),
        example={"max_steps": 3, "batch_size": 8, "eval_batches": 1, "progress": False},
        example_config={
            "data": {"name": "tinylm_pcfg", "n_samples": 64},
            "model": {"name": "electra_generator_discriminator", **_TINY_MODEL},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [],
        },
    )
