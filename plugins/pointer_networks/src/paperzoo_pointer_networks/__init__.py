"""Pointer Networks (Vinyals, Fortunato and Jaitly, 2015), arXiv:1506.03134."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Pointer Networks", year=2015, arxiv="1506.03134")

_SORT_DATA = {"name": "pointer_sorting", "n": 5, "n_train": 32, "n_val": 8}
_SORT_MODEL = {"name": "pointer_net", "input_dim": 1, "hidden": 16, "mask_chosen": True}
_TSP_DATA = {"name": "pointer_tsp", "n": 5, "n_train": 32, "n_val": 8}
_TSP_MODEL = {"name": "pointer_net", "input_dim": 2, "hidden": 16}
_OPTIMIZER = {"name": "adam", "lr": 1e-3}
_TRAINER = {"name": "pointer_net_training", "epochs": 1, "batch_size": 16, "progress": False}
_TASKS = "paperzoo_pointer_networks.tasks"


@hookimpl
def register_layers(register):
    register(
        "pointer_attention",
        "paperzoo_pointer_networks.attention:PointerAttention",
        "Ptr-Net attention: log softmax_j(v^T tanh(W1 e_j + W2 d_i)), a distribution over input positions.",
        paper=PAPER,
        tags=("attention", "pointer", "sequence", "set"),
        example={"hidden": 8},
        example_input=[2, 5, 8],
    )
    register(
        "pointer_net",
        "paperzoo_pointer_networks.model:PointerNet",
        "Ptr-Net: LSTM encoder and decoder whose outputs point at input positions; greedy or beam decoding.",
        paper=PAPER,
        tags=("model", "pointer", "sequence", "combinatorial"),
        example={"input_dim": 2, "hidden": 8},
        example_input=[2, 5, 2],
    )


@hookimpl
def register_trainers(register):
    register(
        "pointer_net_training",
        "paperzoo_pointer_networks.training:PointerNetTraining",
        "The supervised loop with Ptr-Net's teacher-forced loss: NLL of the target positions.",
        paper=PAPER,
        tags=("pointer", "sequence"),
        example={"epochs": 1, "batch_size": 16, "progress": False},
        example_config={"data": _SORT_DATA, "model": _SORT_MODEL, "optimizer": _OPTIMIZER},
    )


@hookimpl
def register_evaluators(register):
    register(
        "pointer_tour_length",
        "paperzoo_pointer_networks.evaluators:PointerTourLength",
        "Mean closed-tour length of a pointer net's decoded TSP tours beside the optimal tours' length.",
        paper=PAPER,
        tags=("pointer", "tsp"),
        example={"beam_size": 2},
        example_config={"data": _TSP_DATA, "model": _TSP_MODEL, "optimizer": _OPTIMIZER, "trainer": _TRAINER},
    )
    register(
        "pointer_sequence_accuracy",
        "paperzoo_pointer_networks.evaluators:PointerSequenceAccuracy",
        "Exact match and per-step accuracy of a pointer net's decoded position sequences (sorting, hull).",
        paper=PAPER,
        tags=("pointer", "sorting", "convex_hull"),
        example={},
        example_config={
            "data": _SORT_DATA,
            "model": _SORT_MODEL,
            "optimizer": _OPTIMIZER,
            "trainer": _TRAINER,
        },
    )


@hookimpl
def register_datasets(register):
    small = {"n": 5, "n_train": 32, "n_val": 8}
    register(
        "pointer_sorting",
        f"{_TASKS}:pointer_sorting",
        "Synthetic: n uniform numbers; target: their positions in ascending order (a permutation).",
        paper=PAPER,
        tags=("synthetic", "pointer", "sorting"),
        example=dict(small),
    )
    register(
        "pointer_convex_hull",
        f"{_TASKS}:pointer_convex_hull",
        "Synthetic: n points in the unit square; target: hull vertices from the lowest index, CCW, then stop.",
        paper=PAPER,
        tags=("synthetic", "pointer", "convex_hull", "geometry"),
        example=dict(small),
    )
    register(
        "pointer_tsp",
        f"{_TASKS}:pointer_tsp",
        "Synthetic: n cities in the unit square; target: an optimal closed tour (exact, Held-Karp).",
        paper=PAPER,
        tags=("synthetic", "pointer", "tsp", "geometry"),
        example=dict(small),
    )
