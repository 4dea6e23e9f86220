"""Layer Normalization (Ba, Kiros and Hinton, 2016), arXiv:1607.06450. Registration only: nothing heavy
is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Layer Normalization", year=2016, arxiv="1607.06450")
ADDING = Paper(title="Long Short-Term Memory", year=1997, url="https://doi.org/10.1162/neco.1997.9.8.1735")


@hookimpl
def register_layers(register):
    register(
        "ba_layer_norm",
        "paperzoo_layernorm.layer_norm:BaLayerNorm",
        "Layer normalization: normalise the hidden units of each example by their own mean and "
        "variance, then a per-unit gain and bias; the same computation at training and test time.",
        paper=PAPER,
        tags=("normalization",),
        example={"normalized_shape": 8},
        example_input=[2, 5, 8],
    )
    register(
        "ln_lstm_cell",
        "paperzoo_layernorm.ln_lstm:LNLSTMCell",
        "One LSTM step with layer normalization of the input-to-hidden and hidden-to-hidden summed "
        "inputs (separately) and of the cell state; a drop-in for torch.nn.LSTMCell.",
        paper=PAPER,
        tags=("normalization", "recurrent"),
        example={"input_size": 8, "hidden_size": 16},
        example_input=[2, 8],
    )
    register(
        "ln_lstm",
        "paperzoo_layernorm.ln_lstm:LNLSTM",
        "A one-layer LN-LSTM over batch-first sequences, with an optional linear read-out of the last "
        "hidden state (layer_norm=false: the plain LSTM).",
        paper=PAPER,
        tags=("normalization", "recurrent", "model"),
        example={"input_size": 2, "hidden_size": 16, "output_size": 1},
        example_input=[2, 6, 2],
    )


@hookimpl
def register_datasets(register):
    register(
        "adding_problem",
        "paperzoo_layernorm.adding:adding_problem",
        "The adding problem: regress the sum of the two marked values of a long sequence of (value, "
        "marker) pairs; a long-range memory task for recurrent networks.",
        paper=ADDING,
        tags=("sequence", "regression", "synthetic"),
        example={"seq_len": 10, "n_samples": 64},
    )
