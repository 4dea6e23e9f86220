"""Unveiling and Harnessing Hidden Attention Sinks: Enhancing Large Language Models without Training
through Attention Calibration (Yu, Wang, Fu, Shi, Shaikh and Lin, ICML 2024), arXiv:2406.15765.
Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title=(
        "Unveiling and Harnessing Hidden Attention Sinks: Enhancing Large Language Models without Training "
        "through Attention Calibration"
    ),
    year=2024,
    arxiv="2406.15765",
)


@hookimpl
def register_layers(register):
    register(
        "attention_sink_calibration",
        "paperzoo_act_attention_calibration.kernel:SinkCalibratedAttention",
        "ACT: softmax attention whose selected heads scale the attention to hidden sinks (tokens after the "
        "first whose mean received attention exceeds a threshold) by beta and give the removed mass to the "
        "other keys in proportion; a tinylm attention kernel, no parameters.",
        paper=PAPER,
        tags=("attention", "training_free", "attention_sink"),
        example={"heads": [0, 1], "beta": 0.4, "threshold": 0.1},
        example_input=[2, 2, 6, 8],
    )
