"""The Lazy Neuron Phenomenon: On Emergence of Activation Sparsity in Transformers (Li et al., ICLR 2023),
arXiv:2210.06313. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="The Lazy Neuron Phenomenon: On Emergence of Activation Sparsity in Transformers",
    year=2023,
    arxiv="2210.06313",
)

# A tiny tinylm decoder with a ReLU MLP on the kit's copy task: the evaluator's contract run.
_TINY_RELU_LM = {
    "data": {"name": "tinylm_copy", "n_samples": 64, "length": 4},
    "model": {
        "name": "tinylm_decoder",
        "d_model": 16,
        "n_layers": 2,
        "n_heads": 2,
        "max_seq_len": 16,
        "ffn": "mlp",
        "activation": "relu",
    },
}


@hookimpl
def register_layers(register):
    register(
        "lazy_neuron_topk",
        "paperzoo_lazy_neuron.topk:LazyNeuronTopK",
        "Top-k activation: ReLU, then keep each token's k largest activations and zero the rest "
        "(the paper's Top-k Transformer MLP); replaces an nn.ReLU.",
        paper=PAPER,
        tags=("activation", "sparsity", "transformer"),
        example={"k": 3},
        example_input=[2, 5, 8],
        example_base={"type": "ReLU"},
    )


@hookimpl
def register_evaluators(register):
    register(
        "lazy_neuron_sparsity",
        "paperzoo_lazy_neuron.sparsity:LazyNeuronSparsity",
        "Fraction of nonzero MLP activations (tinylm hook blocks.*.mlp.post) per layer, over every token "
        "of a split: the paper's activation-sparsity measure.",
        paper=PAPER,
        tags=("metric", "sparsity", "language_modeling"),
        example={"layers": 2, "batch_size": 32},
        example_config=_TINY_RELU_LM,
    )
