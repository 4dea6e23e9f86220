"""CopySpec: Accelerating LLMs with Speculative Copy-and-Paste Without Compromising Quality (Dumitru,
Yang, Yadav & Surdeanu, 2025), arXiv:2502.08923.

Registration only: nothing heavy is imported here. The decoder is
``paperzoo_copyspec.decoding.copyspec_generate``; the verify-and-accept step it uses is the tinylm kit's
``paperzoo_tinylm.speculative``.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="CopySpec: Accelerating LLMs with Speculative Copy-and-Paste Without Compromising Quality",
    year=2025,
    arxiv="2502.08923",
)

# A tiny tinylm decoder on a slice of the standard library's source: the evaluator's contract run.
_TINY_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {"name": "tinylm_decoder", "d_model": 32, "n_layers": 1, "n_heads": 2, "max_seq_len": 96},
}


@hookimpl
def register_evaluators(register):
    register(
        "copyspec_decoding",
        "paperzoo_copyspec.evaluators:CopySpecDecoding",
        "Greedy decoding that copies the continuation of an earlier occurrence of the last gamma tokens "
        "as a draft and verifies it in one pass: passes per token, acceptance rate, equality with greedy.",
        paper=PAPER,
        tags=("decoding", "speculative_decoding", "language_modeling", "generation"),
        example={
            "gamma": 3,
            "number_copy": 8,
            "max_new_tokens": 24,
            "n_prompts": 2,
            "prompt_len": 16,
            "repeat": 8,
        },
        example_config=_TINY_LM,
    )
