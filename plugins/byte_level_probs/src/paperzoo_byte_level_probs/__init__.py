"""Exact Byte-Level Probabilities from Tokenized Language Models for FIM-Tasks and Model Ensembles
(Phan et al., 2024), arXiv:2410.09303. Registration only: nothing heavy is imported here.

``byte_level_sampler`` measures a token LM's next-byte distribution computed exactly from its cover
encodings (``paperzoo_byte_level_probs.byteprobs``) against naive token conditioning, on prompts that end
inside a token; ``byte_level_ensemble`` averages the byte-level distributions of two models with different
vocabularies. ``byte_level_probs_markov`` is the toy corpus: a byte-level Markov source tokenized by a BPE
trained locally, whose true next-byte law is known.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Exact Byte-Level Probabilities from Tokenized Language Models for FIM-Tasks and Model Ensembles",
    year=2024,
    arxiv="2410.09303",
)

_TINY_MODEL = {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16}
_TINY_DATA = {"name": "byte_level_probs_markov", "length": 5, "n_train": 64, "n_val": 8, "bpe_vocab_size": 10}


@hookimpl
def register_evaluators(register):
    register(
        "byte_level_sampler",
        "paperzoo_byte_level_probs.experiment:ByteLevelSampler",
        "Exact next-byte probabilities of a token LM (sum over cover encodings) vs naive token conditioning, "
        "as total-variation distance to the true byte law on prompts ending mid-token and at a boundary.",
        paper=PAPER,
        tags=("tokenization", "decoding", "language_modeling"),
        example={"n_prompts": 6},
        example_config={"data": _TINY_DATA, "model": _TINY_MODEL},
    )
    register(
        "byte_level_ensemble",
        "paperzoo_byte_level_probs.experiment:ByteLevelEnsemble",
        "Byte-level ensemble of two token LMs with different BPE vocabularies (average of their exact "
        "next-byte laws): bits per byte of each and of the ensemble.",
        paper=PAPER,
        tags=("tokenization", "ensemble", "language_modeling"),
        example={"partner_vocab_size": 8, "partner_steps": 0, "n_texts": 2},
        example_config={"data": _TINY_DATA, "model": _TINY_MODEL},
    )


@hookimpl
def register_datasets(register):
    register(
        "byte_level_probs_markov",
        "paperzoo_byte_level_probs.experiment:markov_data",
        "Fixed-length texts of a seeded byte-level Markov source, tokenized by a BPE trained locally "
        "(tokenizers); the bundle carries the source (true next-byte law) and the vocabulary.",
        paper=PAPER,
        tags=("language_modeling", "synthetic", "tokenization"),
        example={"length": 5, "n_train": 64, "n_val": 8, "bpe_vocab_size": 10},
    )
