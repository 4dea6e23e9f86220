"""CodeGen2: Lessons for Training LLMs on Programming and Natural Languages (Nijkamp, Hayashi, Xiong,
Savarese and Zhou, 2023), arXiv:2305.02309. Registration only: nothing heavy is imported here.

``clm_span_infill_mix`` trains a decoder with CodeGen2's mixture of plain causal LM and span corruption
rewritten as causal infilling.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="CodeGen2: Lessons for Training LLMs on Programming and Natural Languages",
    year=2023,
    arxiv="2305.02309",
)


@hookimpl
def register_trainers(register):
    register(
        "clm_span_infill_mix",
        "paperzoo_codegen2_objective.trainer:CLMSpanInfillMixTrainer",
        "CodeGen2's objective: per row plain causal LM (probability p_clm) or T5 span corruption rewritten "
        "as causal infilling (corrupted prefix, separator, then sentinel + span + end-of-mask as targets).",
        paper=PAPER,
        tags=("language_modeling", "objective", "span_corruption", "infilling", "tinylm"),
        example={"max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 24, "max_bytes": 4000},
            "model": {
                "name": "tinylm_decoder",
                "d_model": 16,
                "n_layers": 1,
                "n_heads": 2,
                "max_seq_len": 64,
            },
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
        },
    )
