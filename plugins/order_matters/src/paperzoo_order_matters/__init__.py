"""Order Matters: Sequence to sequence for sets (Vinyals, Bengio and Kudlur, 2016), arXiv:1511.06391.
Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Order Matters: Sequence to sequence for sets", year=2016, arxiv="1511.06391")

_DATA = {"name": "pointer_sorting", "n": 5, "n_train": 32, "n_val": 8}
_MODEL = {
    "name": "read_process_write",
    "input_dim": 1,
    "hidden": 16,
    "processing_steps": 2,
    "mask_chosen": True,
}
_OPTIMIZER = {"name": "adam", "lr": 1e-3}


@hookimpl
def register_layers(register):
    register(
        "order_matters_set2set",
        "paperzoo_order_matters.set2set:OrderMattersSet2Set",
        "Process block (Set2Set): T steps of LSTM query + dot-product attention read; order-invariant q*_T.",
        paper=PAPER,
        tags=("set", "pooling", "attention", "permutation-invariant"),
        example={"in_channels": 8, "processing_steps": 3},
        example_input=[2, 5, 8],
    )
    register(
        "read_process_write",
        "paperzoo_order_matters.model:ReadProcessWrite",
        "Pointer net for sets: per-element MLP read, Set2Set process, pointer-LSTM write from q*_T.",
        paper=PAPER,
        tags=("model", "pointer", "set", "combinatorial"),
        example={"input_dim": 2, "hidden": 8, "processing_steps": 2},
        example_input=[2, 5, 2],
    )


@hookimpl
def register_trainers(register):
    register(
        "order_search_loss",
        "paperzoo_order_matters.training:OrderSearchTraining",
        "Output-set loss: train a pointer net on the highest-probability target ordering among candidates.",
        paper=PAPER,
        tags=("pointer", "set", "search"),
        example={"samples": 2, "epochs": 1, "batch_size": 16, "progress": False},
        example_config={"data": _DATA, "model": _MODEL, "optimizer": _OPTIMIZER},
    )
