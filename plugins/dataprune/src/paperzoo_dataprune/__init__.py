"""dataprune: the score -> prune -> retrain loop shared by data-pruning methods: selection rules
(keep the hardest, the easiest or a random subset, with an offset), a score interface (a callable or
a registered evaluator with ``scores(model, data)``), and the ``pruned_dataset_training`` trainer.

Registration only: nothing heavy is imported here.
"""

from paperzoo import hookimpl


@hookimpl
def register_trainers(register):
    register(
        "pruned_dataset_training",
        "paperzoo_dataprune.trainer:PrunedDatasetTraining",
        "Score the training set (a registered evaluator's per-example scores, averaged over briefly "
        "trained models), keep the hardest, easiest or a random subset, train on it.",
        tags=("data_pruning",),
        example={"keep": "random", "prune_fraction": 0.5, "epochs": 1, "batch_size": 16, "progress": False},
    )
