"""Deep Learning on a Data Diet: Finding Important Examples Early in Training (Paul, Ganguli and
Dziugaite, NeurIPS 2021), arXiv:2107.07075."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Deep Learning on a Data Diet: Finding Important Examples Early in Training",
    year=2021,
    arxiv="2107.07075",
)


@hookimpl
def register_evaluators(register):
    register(
        "el2n",
        "paperzoo_data_diet.evaluators:EL2N",
        "EL2N score ||softmax(f(x)) - onehot(y)||_2 of every training example: mean, std and max.",
        paper=PAPER,
        tags=("data_pruning", "classification"),
        example={"batch_size": 64},
    )
    register(
        "grand",
        "paperzoo_data_diet.evaluators:GraNd",
        "GraNd score ||grad_theta loss(x, y)||_2 of every training example (vmap of per-example "
        "gradients): mean, std and max.",
        paper=PAPER,
        tags=("data_pruning",),
        example={"batch_size": 64},
    )


@hookimpl
def register_trainers(register):
    register(
        "data_diet",
        "paperzoo_data_diet.trainer:DataDiet",
        "Score the training set with EL2N or GraNd averaged over briefly trained models, prune the "
        "lowest scores, retrain from scratch on the rest (dataprune's pruned_dataset_training).",
        paper=PAPER,
        tags=("data_pruning",),
        example={
            "score": "el2n",
            "prune_fraction": 0.5,
            "n_seeds": 2,
            "score_epochs": 1,
            "epochs": 1,
            "batch_size": 16,
            "progress": False,
        },
    )
