"""Verifier-free Test-Time Sampling for Vision Language Action Models (MG-Select; Jang, Kim, Kim, Kim and
Shin, 2025), arXiv:2510.05681. Registration only: nothing heavy is imported here.

The plain functions live in ``paperzoo_mg_select.mg_select`` (the condition-masking KL confidence and
best-of-N by it, on the kit's ``paperzoo_tinylm.best_of_n``), ``paperzoo_mg_select.dropout`` (condition
dropout) and ``paperzoo_mg_select.goal_reaching`` (the synthetic discrete-action task).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Verifier-free Test-Time Sampling for Vision Language Action Models",
    year=2025,
    arxiv="2510.05681",
)

_TINY_DATA = {"name": "mg_select_goal_reaching", "n_samples": 64, "size": 3, "horizon": 4}
_TINY_MODEL = {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16}


@hookimpl
def register_datasets(register):
    register(
        "mg_select_goal_reaching",
        "paperzoo_mg_select.goal_reaching:goal_reaching",
        "Synthetic goal reaching on a grid: <bos>s<x><y>g<u><v>: then an action chunk of moves; noisy "
        "demonstrations (expert or condition-blind random chunks) for training, expert ones for validation.",
        paper=PAPER,
        tags=("synthetic", "language_modeling", "robotics"),
        example={"n_samples": 64, "size": 3, "horizon": 4},
    )


@hookimpl
def register_trainers(register):
    register(
        "condition_dropout",
        "paperzoo_mg_select.trainer:ConditionDropout",
        "Supervised training that masks the state and instruction tokens of each row at random (independent "
        "probabilities), so one policy learns conditional and condition-masked distributions jointly.",
        paper=PAPER,
        tags=("language_modeling", "robotics", "test_time_scaling", "tinylm"),
        example={"p_state": 0.25, "p_text": 0.25, "max_steps": 2, "batch_size": 8},
        example_config={
            "data": _TINY_DATA,
            "model": _TINY_MODEL,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "mg_select", "n": 2, "n_prompts": 2}],
        },
    )


@hookimpl
def register_evaluators(register):
    register(
        "mg_select",
        "paperzoo_mg_select.evaluator:MGSelect",
        "MG-Select best-of-N: sample N action chunks, keep the one whose per-token distributions deviate "
        "most (summed KL) from the same policy's with state/instruction masked; goal-reaching success.",
        paper=PAPER,
        tags=("language_modeling", "robotics", "test_time_scaling", "decoding", "tinylm"),
        example={"n": 2, "n_prompts": 2},
        example_config={"data": _TINY_DATA, "model": _TINY_MODEL},
    )
