"""Configurable Foundation Models: Building LLMs from a Modular Perspective (Xiao et al., 2024),
arXiv:2409.02877: the FFN neuron specialisation measure of its empirical analysis. Registration only:
nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Configurable Foundation Models: Building LLMs from a Modular Perspective",
    year=2024,
    arxiv="2409.02877",
)


@hookimpl
def register_evaluators(register):
    register(
        "ffn_neuron_specialization",
        "paperzoo_ffn_brick_analysis.evaluate:FFNNeuronSpecialization",
        "Per-task FFN neuron activation frequencies (tinylm hook blocks.*.mlp.post, or any torch model's "
        "activation modules) and the Jaccard overlap of the tasks' top-k neuron sets, per layer.",
        paper=PAPER,
        tags=("metric", "sparsity", "interpretability"),
        example={"k": 4, "layers": 1},
    )
