"""Enhancing Neural Subset Selection: Integrating Background Information into Set Representations (Xie,
Bian, Zhou, Chen, Zhao, Han, Meng and Cheng, ICLR 2024), arXiv:2402.03139. Registration only: nothing
heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Enhancing Neural Subset Selection: Integrating Background Information into Set Representations",
    year=2024,
    arxiv="2402.03139",
)


@hookimpl
def register_layers(register):
    register(
        "inset_subset_encoder",
        "paperzoo_inset.encoder:InsetSubsetEncoder",
        "INSET F(S; V): DeepSets encoders of subset S and superset V fused (concat/product) then rho; "
        "invariant to both.",
        paper=PAPER,
        tags=("set", "subset", "permutation-invariant", "deepsets"),
        example={"in_features": 3, "hidden": 8},
        example_input=[2, 6, 4],
    )


@hookimpl
def register_datasets(register):
    register(
        "inset_relative_max",
        "paperzoo_inset.data:inset_relative_max",
        "Synthetic: ground sets of 10 values with a marked subset S; target max(v_S) - mean(v_V).",
        paper=PAPER,
        tags=("synthetic", "set", "subset", "regression"),
        example={"n_train": 32, "n_val": 8},
    )
