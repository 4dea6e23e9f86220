"""Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better, Even Mid-Generation (Manvi,
Singh and Ermon, 2024), arXiv:2410.02725. Registration only: nothing heavy is imported here.

The plain functions live in ``paperzoo_capability_self_eval.self_eval`` (the self-evaluation token, its
labels and loss), ``paperzoo_capability_self_eval.adaptive`` (adaptive sampling, pruning, annealing) and
the kit's ``paperzoo_tinylm.best_of_n`` (the generic best-of-N selector).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Adaptive Inference-Time Compute: LLMs Can Predict if They Can Do Better, Even Mid-Generation",
    year=2024,
    arxiv="2410.02725",
)

# A tiny decoder on modular addition mod 7: the components' contract run.
_TINY_TASK = {
    "data": {"name": "tinylm_modular_arithmetic", "modulus": 7, "train_fraction": 0.5},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32},
}


@hookimpl
def register_trainers(register):
    register(
        "self_eval_token_sft",
        "paperzoo_capability_self_eval.trainer:SelfEvalTokenSFT",
        "Trains one self-evaluation token, read after a response and a fixed prompt, to give P(restarting "
        "gives a better response), from on-policy samples labelled by verifiable-reward comparisons.",
        paper=PAPER,
        tags=("language_modeling", "inference_time_compute", "self_evaluation", "tinylm"),
        example={"n_prompts": 4, "k_samples": 2, "max_new_tokens": 2, "max_steps": 2, "batch_size": 4},
        example_config={
            **_TINY_TASK,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "adaptive_best_of_n", "n_max": 2, "n_prompts": 2, "max_new_tokens": 2}],
        },
    )


@hookimpl
def register_evaluators(register):
    register(
        "adaptive_best_of_n",
        "paperzoo_capability_self_eval.evaluators:AdaptiveBestOfN",
        "Adaptive best-of-N on a task's questions: sample in doubling rounds with annealed temperature, stop "
        "once the self-evaluated P(better) is below a threshold, keep the lowest; verifiable reward.",
        paper=PAPER,
        tags=("language_modeling", "inference_time_compute", "decoding", "tinylm"),
        example={"n_max": 2, "n_prompts": 2, "max_new_tokens": 2},
        example_config=_TINY_TASK,
    )
