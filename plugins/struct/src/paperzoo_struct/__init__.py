"""struct: pieces shared by methods on structured (CTR) data: packed categorical-field inputs and their
embeddings, a sum-pooling Embedding&MLP baseline, a planted-interaction CTR generator, and AUC / log loss /
group AUC evaluators.

Registration only: nothing heavy is imported here.
"""

from paperzoo import hookimpl

_MODEL = {"vocab_sizes": [5, 20, 4], "embedding_dim": 4, "sequence_field": 1, "hidden": [8]}
_TINY_RUN = {
    "data": {"name": "struct_planted_ctr", "n_samples": 256, "n_users": 20, "n_items": 40, "n_categories": 4},
    "model": {"name": "struct_embedding_mlp", "vocab_sizes": [20, 40, 4], "embedding_dim": 4, "hidden": [8]},
}


@hookimpl
def register_layers(register):
    register(
        "struct_embedding_mlp",
        "paperzoo_struct.fields:SumPoolingMLP",
        "Embedding&MLP CTR baseline: field embeddings plus the sum of the behaviour embeddings (padding "
        "masked), concatenated into an MLP; returns 2-class logits [0, z].",
        tags=("ctr", "recommendation", "baseline"),
        example=_MODEL,
        example_input={"shape": [4, 3 + 6], "dtype": "long", "high": 4},
    )


@hookimpl
def register_datasets(register):
    register(
        "struct_planted_ctr",
        "paperzoo_struct.data:planted_ctr",
        "Synthetic CTR data whose click depends on the similarity of the candidate to the most similar "
        "item of the behaviour sequence; packed ids [user, item, category, behaviours...], 2 classes.",
        tags=("ctr", "synthetic"),
        example={"n_samples": 64, "n_users": 10, "n_items": 20, "n_categories": 4, "max_len": 5},
    )


@hookimpl
def register_evaluators(register):
    for name, target, summary in (
        ("struct_auc", "AUC", "ROC AUC of the click logit over a split."),
        ("struct_logloss", "LogLoss", "Mean binary log loss of the click logit over a split."),
        ("struct_group_auc", "GroupAUC", "Impression-weighted per-user AUC (GAUC) over a split."),
    ):
        register(
            name,
            f"paperzoo_struct.metrics:{target}",
            summary,
            tags=("ctr", "metric"),
            example={"batch_size": 64},
            example_config=_TINY_RUN,
        )
