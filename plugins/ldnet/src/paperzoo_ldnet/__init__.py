"""Label Drop for Multi-Aspect Relation Modeling in Universal Information Extraction (LDNet, Yang et al.,
NAACL 2025), official code github.com/Lu-Yang666/LDNet. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Label Drop for Multi-Aspect Relation Modeling in Universal Information Extraction",
    year=2025,
    arxiv="2502.12614",
)

_SMALL = {"d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 64}
_DATA = {"n_train": 32, "n_val": 16, "n_relations": 8, "n_words": 9,
         "n_distractors": 6}  # fmt: skip


@hookimpl
def register_layers(register):
    register(
        "multi_aspect_relation_head",
        "paperzoo_ldnet.heads:MultiAspectRelationHead",
        "LDNet's multi-aspect relation modelling: each relation type decides on its own level, a separate "
        "pair of span pointers (head, tail) queried by the relation's label token.",
        paper=PAPER,
        tags=("information_extraction", "pointer", "head"),
        example={"d_model": 16, "n_levels": 2, "n_relations": 4},
        example_input=[2, 8, 16],
    )
    register(
        "ldnet_extractor",
        "paperzoo_ldnet.model:LDNetExtractor",
        "A tinylm encoder over '<bos> sentence <eos> labels' read by the multi-aspect relation head: "
        "pointer logits [B, T, 2, T] for every label token.",
        paper=PAPER,
        tags=("information_extraction", "pointer", "tinylm"),
        example={"n_levels": 2, "n_relations": 8, **_SMALL},
        example_input={"shape": [2, 12], "dtype": "long", "high": 256},
    )


@hookimpl
def register_trainers(register):
    register(
        "label_drop",
        "paperzoo_ldnet.trainer:LabelDropTrainer",
        "Relation extraction from multi-target instructions in which each negative (irrelevant) label is "
        "dropped from the instruction with probability p; gold labels never.",
        paper=PAPER,
        tags=("information_extraction", "regularization", "tinylm"),
        example={"p": 0.5, "max_steps": 2, "batch_size": 8, "progress": False},
        example_config={
            "data": {"name": "ldnet_relations", **_DATA},
            "model": {"name": "ldnet_extractor", "n_levels": 2, "n_relations": 8, **_SMALL},
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [],
        },
    )


@hookimpl
def register_datasets(register):
    register(
        "ldnet_relations",
        "paperzoo_ldnet.relations:relation_task",
        "Synthetic: sentences with planted (head, trigger, tail) triples and an instruction listing the gold "
        "relation labels among many distractor labels; targets are head/tail pointers per label.",
        paper=PAPER,
        tags=("synthetic", "information_extraction", "relation_extraction"),
        example=dict(_DATA),
    )
