"""UL2: Unifying Language Learning Paradigms (Tay, Dehghani, Tran, Garcia, Wei, Wang, Chung, Shakeri,
Bahri, Schuster, Zheng, Zhou, Houlsby and Metzler, ICLR 2023), arXiv:2205.05131. Registration only:
nothing heavy is imported here.

``mixture_of_denoisers`` trains a tinylm encoder-decoder (or decoder) with the Mixture-of-Denoisers
objective; ``ul2_mod_denoising`` evaluates infilling and continuation losses.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="UL2: Unifying Language Learning Paradigms", year=2023, arxiv="2205.05131")

_MODEL = {
    "name": "tinylm_encoder_decoder",
    "d_model": 16,
    "n_layers": 1,
    "n_heads": 2,
    "max_seq_len": 64,
}


@hookimpl
def register_trainers(register):
    register(
        "mixture_of_denoisers",
        "paperzoo_ul2_mod.trainer:MixtureOfDenoisersTrainer",
        "UL2's Mixture-of-Denoisers: per example an R (T5 span corruption), X (long spans / high rate) or "
        "S (prefix LM) denoiser with its mode token; encoder-decoder or decoder-only.",
        paper=PAPER,
        tags=("language_modeling", "objective", "span_corruption", "tinylm"),
        example={"max_steps": 2, "batch_size": 4, "progress": False},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 24, "max_bytes": 4000},
            "model": _MODEL,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "ul2_mod_denoising", "batch_size": 4, "n_batches": 1}],
        },
    )


@hookimpl
def register_evaluators(register):
    register(
        "ul2_mod_denoising",
        "paperzoo_ul2_mod.evaluate:DenoisingEvaluator",
        "Target-token loss and accuracy on infilling ([R] span corruption) and continuation ([S] prefix "
        "split) of a split, and their mean.",
        paper=PAPER,
        tags=("language_modeling", "span_corruption", "tinylm"),
        example={"batch_size": 4, "n_batches": 1},
        example_config={
            "data": {"name": "tinylm_stdlib", "seq_len": 24, "max_bytes": 4000},
            "model": _MODEL,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "trainer": {"name": "supervised", "max_steps": 1, "batch_size": 4, "progress": False},
        },
    )
