"""Beyond neural scaling laws: beating power law scaling via data pruning (Sorscher, Geirhos, Shekhar,
Ganguli and Morcos, NeurIPS 2022), arXiv:2206.14486.

Registration only: nothing heavy is imported here. The score -> prune -> retrain trainer
``pruned_dataset_training`` is the ``dataprune`` kit's; this plugin gives it the self-supervised
prototype score and adds the teacher-student simulation.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Beyond neural scaling laws: beating power law scaling via data pruning",
    year=2022,
    arxiv="2206.14486",
)


@hookimpl
def register_evaluators(register):
    register(
        "ssl_prototype_score",
        "paperzoo_data_pruning_ssp.evaluators:SSLPrototypeScore",
        "Self-supervised prototype score of every training example: cosine distance of its embedding to "
        "the nearest k-means centroid (higher = harder): mean, std and max.",
        paper=PAPER,
        tags=("data_pruning",),
        example={"n_clusters": 3, "n_init": 2},
    )
    register(
        "teacher_student_pruning_sim",
        "paperzoo_data_pruning_ssp.evaluators:TeacherStudentPruningSim",
        "Teacher-student perceptron simulation of data pruning: test error of a max-margin student on the "
        "hard, easy or random kept fraction of teacher-labelled Gaussian data.",
        paper=PAPER,
        tags=("data_pruning", "theory"),
        example={"n_dim": 20, "alpha_tot": 4.0, "fraction_kept": 0.5, "seeds": [0]},
    )
