"""Beyond Size: How Gradients Shape Pruning Decisions in Large Language Models (Das, Ma, Shen; 2023),
arXiv:2311.04902: GBLM-Pruner.

Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Beyond Size: How Gradients Shape Pruning Decisions in Large Language Models",
    year=2023,
    arxiv="2311.04902",
)

_TINY = {
    "data": {"name": "tinylm_stdlib", "seq_len": 16, "max_bytes": 4000},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 16},
}


@hookimpl
def register_trainers(register):
    register(
        "gblm_prune",
        "paperzoo_gblm_pruner.trainer:GBLMPrune",
        "Supervised training, then GBLM-Pruner: one-shot unstructured pruning of every block Linear by "
        "|W| ||X||_2 + alpha |W| G (G: l2 over calibration sequences of per-sequence gradients), per output "
        "row, no weight update.",
        paper=PAPER,
        tags=("pruning", "sparsity", "compression", "tinylm"),
        example={
            "max_steps": 2,
            "batch_size": 4,
            "sparsity": 0.5,
            "calib_batches": 1,
            "eval_batches": 1,
            "progress": False,
        },
        example_config={
            **_TINY,
            "optimizer": {"name": "adamw", "lr": 1.0e-3},
            "evaluators": [{"name": "loss"}],
        },
    )
