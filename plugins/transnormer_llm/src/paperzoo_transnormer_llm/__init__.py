"""TransNormerLLM: A Faster and Better Large Language Model with Improved TransNormer (Qin et al., 2023),
arXiv:2307.14995. Registration only: nothing heavy is imported here.

Lightning attention (block-wise causal linear attention with a per-head decay, on tinylm's chunked
linear-attention form), LRPE-d, the simple gated linear unit, SimpleRMSNorm, the TransNormerLLM block
and a small language model built from it.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="TransNormerLLM: A Faster and Better Large Language Model with Improved TransNormer",
    year=2023,
    arxiv="2307.14995",
)

_QKV = {"shape": [2, 2, 12, 4]}


@hookimpl
def register_layers(register):
    register(
        "lightning_attention",
        "paperzoo_transnormer_llm.layers:LightningAttention",
        "Causal linear attention with per-head decay, block-wise (quadratic inside blocks, kv state across).",
        paper=PAPER,
        tags=("attention", "linear_attention", "kernel"),
        example={"decay": [0.9, 0.6], "block_size": 5},
        example_input=_QKV,
    )
    register(
        "lrpe_decay",
        "paperzoo_transnormer_llm.layers:LrpeDecay",
        "LRPE-d: linearised relative positional encoding [x cos(theta n), x sin(theta n)] with a layer's decay.",
        paper=PAPER,
        tags=("position", "linear_attention"),
        example={"n_heads": 2, "head_dim": 4, "layer_idx": 0, "n_layers": 2},
        example_input=_QKV,
    )
    register(
        "simple_gated_linear_unit",
        "paperzoo_transnormer_llm.layers:SimpleGatedLinearUnit",
        "SGLU channel mixer: l3(l1(x) * l2(x)), a gated linear unit without activation.",
        paper=PAPER,
        tags=("ffn", "glu"),
        example={"d_model": 8, "d_ff": 16},
        example_input=[2, 5, 8],
    )
    register(
        "simple_rmsnorm",
        "paperzoo_transnormer_llm.layers:SimpleRMSNorm",
        "SimpleRMSNorm: x / sqrt(mean(x^2) + eps), RMSNorm without a gain.",
        paper=PAPER,
        tags=("normalization",),
        example={"dim": 8},
        example_input=[2, 5, 8],
    )
    register(
        "transnormer_llm_block",
        "paperzoo_transnormer_llm.model:TransNormerLLMBlock",
        "TransNormerLLM block: pre-SRMSNorm gated lightning attention with LRPE-d, then pre-SRMSNorm SGLU.",
        paper=PAPER,
        tags=("block", "linear_attention"),
        example={"d_model": 16, "n_heads": 2, "layer_idx": 0, "n_layers": 2, "block_size": 4},
        example_input=[2, 10, 16],
    )
    register(
        "transnormer_llm",
        "paperzoo_transnormer_llm.model:TransNormerLLM",
        "Causal TransNormerLLM language model: embedding, TransNormerLLM blocks, SimpleRMSNorm, head.",
        paper=PAPER,
        tags=("model", "language_modeling", "decoder", "linear_attention"),
        example={"vocab_size": 64, "d_model": 16, "n_layers": 2, "n_heads": 2, "block_size": 4},
        example_input={"shape": [2, 10], "dtype": "long", "high": 64},
    )
