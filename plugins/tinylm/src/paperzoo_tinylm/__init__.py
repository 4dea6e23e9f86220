"""tinylm: the shared small-language-model kit (models, KV cache, hooks, tokenizer, data, a checkpoint).

Registration only: nothing here imports torch; the implementation is imported when a component is built.
"""

from paperzoo import Paper, hookimpl

TRANSFORMER = Paper(title="Attention Is All You Need", year=2017, arxiv="1706.03762")
LLAMA = Paper(title="LLaMA: Open and Efficient Foundation Language Models", year=2023, arxiv="2302.13971")
RMSNORM = Paper(title="Root Mean Square Layer Normalization", year=2019, arxiv="1910.07467")
T5 = Paper(
    title="Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer",
    year=2019,
    arxiv="1910.10683",
)
BERT = Paper(
    title="BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    year=2018,
    arxiv="1810.04805",
)
MAMBA = Paper(
    title="Mamba: Linear-Time Sequence Modeling with Selective State Spaces", year=2023, arxiv="2312.00752"
)
LINEAR_TRANSFORMER = Paper(
    title="Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
    year=2020,
    arxiv="2006.16236",
)

# A few-millisecond decoder: the contract checks and the docs build it.
_TINY = {"d_model": 16, "n_layers": 1, "n_heads": 2, "vocab_size": 64, "max_seq_len": 32}
_TOKENS = {"shape": [2, 8], "dtype": "long", "high": 64}


def pretrained(name: str = "stdlib-small", retrain: bool = False):
    """The pretrained decoder ``name`` (see ``paperzoo_tinylm.checkpoints``): trained deterministically and
    cached the first time, loaded from the cache (safetensors) afterwards."""
    from paperzoo_tinylm.checkpoints import load

    return load(name, retrain=retrain)


@hookimpl
def register_layers(register):
    register(
        "tinylm_decoder",
        "paperzoo_tinylm.model:TinyLMDecoder",
        "Causal transformer LM with swappable norm/attention/ffn/position slots, KV cache and hook names.",
        paper=LLAMA,
        tags=("model", "language_modeling", "decoder", "kit"),
        example=dict(_TINY),
        example_input=dict(_TOKENS),
    )
    register(
        "tinylm_encoder",
        "paperzoo_tinylm.model:TinyLMEncoder",
        "Bidirectional transformer with a masked-language-model head, from the same block and slots.",
        paper=BERT,
        tags=("model", "language_modeling", "encoder", "kit"),
        example=dict(_TINY),
        example_input=dict(_TOKENS),
    )
    register(
        "tinylm_encoder_decoder",
        "paperzoo_tinylm.encdec:TinyLMEncoderDecoder",
        "T5-style encoder-decoder (bidirectional encoder, causal decoder with cross-attention), same slots.",
        paper=T5,
        tags=("model", "language_modeling", "encoder_decoder", "kit"),
        example=dict(_TINY),
        example_input=dict(_TOKENS),
    )
    register(
        "rms_norm",
        "paperzoo_tinylm.norms:RMSNorm",
        "Root-mean-square normalisation of the last dimension with a learned gain (no mean, no bias).",
        paper=RMSNORM,
        tags=("norm", "kit"),
        example={"dim": 16},
        example_input=[2, 3, 16],
    )
    register(
        "tinylm_linear_attention",
        "paperzoo_tinylm.linear_attention:LinearAttention",
        "Linear attention kernel (feature map, optional normaliser and per-head decay) in parallel, "
        "recurrent or chunked form; a tinylm attention kernel.",
        paper=LINEAR_TRANSFORMER,
        tags=("attention", "linear_attention", "kit"),
        example={"feature_map": "elu1", "chunk_size": 4},
        example_input=[2, 2, 6, 8],
    )
    register(
        "tinylm_mamba_block",
        "paperzoo_tinylm.selective_scan:MambaBlock",
        "Pre-norm residual Mamba block: a selective-SSM mixer (pure-PyTorch parallel or sequential scan).",
        paper=MAMBA,
        tags=("sequence_mixer", "ssm", "mamba", "kit"),
        example={"d_model": 16, "d_state": 4},
        example_input=[2, 8, 16],
    )


# -- datasets (tokenizer, data and tasks: see paperzoo_tinylm.data and paperzoo_tinylm.tasks) -----------
GROKKING = Paper(
    title="Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets",
    year=2022,
    arxiv="2201.02177",
)
ZOOLOGY = Paper(
    title="Zoology: Measuring and Improving Recall in Efficient Language Models",
    year=2023,
    arxiv="2312.04927",
)
_TASK = "paperzoo_tinylm.tasks"
_SMALL = {"n_samples": 64}


@hookimpl
def register_datasets(register):
    register(
        "tinylm_stdlib",
        "paperzoo_tinylm.data:stdlib_bytes",
        "The standard library's source as bytes (kit token ids), split on bytes: the last 10% is validation.",
        paper=None,
        tags=("text", "language_modeling", "kit"),
        example={"seq_len": 32, "max_bytes": 20000},
    )
    register(
        "tinylm_copy",
        f"{_TASK}:copy",
        "Synthetic: repeat a string of random symbols (<bos>kdjw=kdjw<eos>); answers only are scored.",
        paper=None,
        tags=("synthetic", "language_modeling", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_reversal",
        f"{_TASK}:reversal",
        "Synthetic: a string of random symbols reversed (<bos>kdjw=wjdk<eos>); answers only are scored.",
        paper=None,
        tags=("synthetic", "language_modeling", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_sorting",
        f"{_TASK}:sorting",
        "Synthetic: random symbols in ascending order (<bos>dbca=abcd<eos>); answers only are scored.",
        paper=None,
        tags=("synthetic", "language_modeling", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_associative_recall",
        f"{_TASK}:associative_recall",
        "Synthetic multi-query associative recall: key-value pairs, then queried keys answered by their values.",
        paper=ZOOLOGY,
        tags=("synthetic", "language_modeling", "recall", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_counting",
        f"{_TASK}:counting",
        "Synthetic: how often a queried symbol occurs in a string, in two digits (<bos>abab?a=02<eos>).",
        paper=None,
        tags=("synthetic", "language_modeling", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_modular_arithmetic",
        f"{_TASK}:modular_arithmetic",
        "Synthetic: a op b mod p over the whole table, split disjointly into train and validation equations.",
        paper=GROKKING,
        tags=("synthetic", "language_modeling", "arithmetic", "kit"),
        example={"modulus": 7},
    )
    register(
        "tinylm_pcfg",
        f"{_TASK}:pcfg",
        "Synthetic: arithmetic expressions from a small probabilistic grammar, answered with their value mod 10.",
        paper=None,
        tags=("synthetic", "language_modeling", "grammar", "kit"),
        example=dict(_SMALL),
    )
    register(
        "tinylm_mqar",
        "paperzoo_tinylm.long_context:mqar",
        "Long-context multi-query associative recall at a fixed length: key-value pairs, then queried keys "
        "among filler, each answered by its value; optional longer validation length.",
        paper=ZOOLOGY,
        tags=("synthetic", "language_modeling", "recall", "long_context", "kit"),
        example={"n_samples": 16, "seq_len": 32, "n_pairs": 4, "n_queries": 4, "val_seq_len": 64},
    )
    register(
        "tinylm_kv_retrieval",
        "paperzoo_tinylm.long_context:kv_retrieval",
        "Long-context key-value retrieval: multi-token key:value pairs filling the context, then queried "
        "keys answered by their values; optional longer validation length.",
        paper=None,
        tags=("synthetic", "language_modeling", "recall", "long_context", "kit"),
        example={"n_samples": 16, "seq_len": 48, "val_seq_len": 96},
    )


@hookimpl
def register_evaluators(register):
    register(
        "tinylm_layer_stats",
        "paperzoo_tinylm.layer_stats:LayerStatsEvaluator",
        "Per-layer statistics through the hook names: residual-stream RMS and variance, gradient norms, "
        "activation nonzero fraction, block input/output angle.",
        paper=TRANSFORMER,
        tags=("analysis", "language_modeling", "kit"),
        example={"batch_size": 4},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 2,
                "n_heads": 2,
                "max_seq_len": 32,
            },
        },
    )
