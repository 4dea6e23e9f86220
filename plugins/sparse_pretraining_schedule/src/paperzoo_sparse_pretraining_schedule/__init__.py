"""The Journey Matters: Average Parameter Count over Pre-training Unifies Sparse and Dense Scaling Laws
(Jin et al., 2025), arXiv:2501.12486. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="The Journey Matters: Average Parameter Count over Pre-training Unifies Sparse and Dense "
    "Scaling Laws",
    year=2025,
    arxiv="2501.12486",
)

# dense runs at three sizes and 75%-sparse runs at two (Nbar = 0.53 N): L = 2 + 30 / Nbar^0.5
_RUNS = {
    "n_avg": [1000.0, 4000.0, 531.25, 2125.0, 16000.0],
    "loss": [2.948683298050514, 2.474341649025257, 3.301582746911937, 2.6507913734559683, 2.2371708245126283],
}


@hookimpl
def register_trainers(register):
    register(
        "gradual_magnitude_pruning",
        "paperzoo_sparse_pretraining_schedule.trainer:GradualMagnitudePruning",
        "Sparse pre-training: gradual magnitude pruning of the Linears on a cubic schedule from 25% to "
        "75% of the steps, masks re-applied after every step; reports the average parameter count.",
        paper=PAPER,
        tags=("pruning", "sparsity", "sparse_pretraining", "scaling_law"),
        example={"final_sparsity": 0.5, "max_steps": 8, "batch_size": 16, "progress": False},
    )


@hookimpl
def register_evaluators(register):
    register(
        "avg_param_scaling_law",
        "paperzoo_sparse_pretraining_schedule.evaluate:AvgParamScalingLaw",
        "Fit L = E + A / Nbar^alpha + B / D^beta (Nbar: average non-zero parameter count over the run) "
        "jointly on dense and sparse runs, through lawfit's fit_curve (a fit step; the model is not read).",
        paper=PAPER,
        tags=("metric", "scaling_law", "fit", "sparsity"),
        example=_RUNS,
    )
