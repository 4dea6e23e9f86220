"""Just read twice: closing the recall gap for recurrent language models (Arora et al., 2024),
arXiv:2407.05483. Registration only: nothing heavy is imported here.

``prefix_linear_attention`` (JRT-RNN) is a tinylm attention kernel: linear attention that reads a prefix
non-causally through separate prefix keys and values and decodes causally (``paperzoo_jrt.prefix_attention``);
``jrt_prompt`` (JRT-Prompt) measures an LM's recall on tinylm's recall tasks with the context read once
and read several times (``paperzoo_jrt.jrt_prompt``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Just read twice: closing the recall gap for recurrent language models",
    year=2024,
    arxiv="2407.05483",
)


@hookimpl
def register_layers(register):
    register(
        "prefix_linear_attention",
        "paperzoo_jrt.prefix_attention:PrefixLinearAttention",
        "JRT-RNN prefix linear attention: the prefix read non-causally (separate prefix keys/values), the "
        "rest causally, one shared normaliser; a tinylm attention kernel.",
        paper=PAPER,
        tags=("attention", "linear_attention", "recurrent"),
        example={"prefix_len": 3, "kv_dim": 16, "chunk_size": 4},
        example_input=[2, 2, 6, 8],
    )


@hookimpl
def register_evaluators(register):
    register(
        "jrt_prompt",
        "paperzoo_jrt.jrt_prompt:JRTPromptEvaluator",
        "JRT-Prompt: recall accuracy on tinylm_mqar / tinylm_kv_retrieval answers with the context read once "
        "and read `repeats` times.",
        paper=PAPER,
        tags=("recall", "language_modeling", "prompting"),
        example={"batch_size": 8, "n_batches": 1},
        example_config={
            "data": {"name": "tinylm_mqar", "n_samples": 16, "seq_len": 32, "n_pairs": 4, "n_queries": 2},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "max_seq_len": 64,
            },
        },
    )
