"""MaskLLM: Learnable Semi-Structured Sparsity for Large Language Models (Fang et al., NeurIPS 2024),
arXiv:2409.17481. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="MaskLLM: Learnable Semi-Structured Sparsity for Large Language Models",
    year=2024,
    arxiv="2409.17481",
)

_LM = {
    "data": {"name": "stdlib_text", "seq_len": 32, "max_bytes": 20000},
    "model": {
        "name": "tinylm_decoder",
        "d_model": 32,
        "n_layers": 1,
        "n_heads": 2,
        "vocab_size": 256,
        "max_seq_len": 32,
    },
}


@hookimpl
def register_layers(register):
    register(
        "learnable_nm_mask_linear",
        "paperzoo_maskllm.layer:LearnableNMMaskLinear",
        "Frozen Linear with a learnable N:M mask: logits over the C(M,N) candidate masks of every group, "
        "Gumbel-softmax samples (annealed temperature, scaled logits) in training, argmax in eval.",
        paper=PAPER,
        tags=("sparsity", "n:m", "compression", "pruning", "linear"),
        example={"n": 2, "m": 4, "temperature": [4.0, 0.05], "scale": [100.0, 500.0], "prior_strength": 3.0},
        example_base={"type": "Linear", "args": [16, 32]},
        example_input=[4, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "maskllm",
        "paperzoo_maskllm.trainer:MaskLLMTrainer",
        "Learns N:M masks of a model's frozen Linears (MaskLLM): Gumbel-softmax over candidate masks, "
        "magnitude prior, annealed weight regulariser; evaluates the argmax masks.",
        paper=PAPER,
        tags=("sparsity", "n:m", "compression", "pruning"),
        example={"n": 2, "m": 4, "max_steps": 3, "batch_size": 8, "progress": False},
        example_config={**_LM, "optimizer": {"name": "adamw", "lr": 1.0e-3, "weight_decay": 0.0}},
    )
