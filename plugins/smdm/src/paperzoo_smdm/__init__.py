"""Scaling up Masked Diffusion Models on Text (Nie et al., ICLR 2025), arXiv:2410.18514.

Registration only: nothing heavy is imported here. The plain functions live in
``paperzoo_smdm.diffusion`` (``forward_process``, ``mdm_loss``, ``mdm_sample``, ``guided_logits``,
``mdm_elbo``).
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Scaling up Masked Diffusion Models on Text", year=2025, arxiv="2410.18514")

_TINY_ENCODER = {"name": "tinylm_encoder", "d_model": 16, "n_layers": 1, "n_heads": 2, "max_seq_len": 32}
_TINY_RUN = {
    "data": {"name": "tinylm_reversal", "n_samples": 64, "length": 4},
    "model": dict(_TINY_ENCODER),
    "optimizer": {"name": "adamw", "lr": 1.0e-3},
    "evaluators": [],
}


@hookimpl
def register_trainers(register):
    register(
        "masked_diffusion_lm",
        "paperzoo_smdm.trainer:MaskedDiffusionLM",
        "Masked diffusion LM training (SMDM) on a bidirectional encoder: mask each token w.p. t, "
        "loss = CE on masked tokens / t, summed over B*L (the ELBO).",
        paper=PAPER,
        tags=("pretraining", "language_modeling", "diffusion", "tinylm"),
        example={"max_steps": 3, "batch_size": 8, "progress": False},
        example_config=_TINY_RUN,
    )


@hookimpl
def register_evaluators(register):
    register(
        "mdm_sampler_ucfg",
        "paperzoo_smdm.evaluators:MDMSamplerUCFG",
        "Answers filled by the masked-diffusion sampler (K steps, confidence or random remasking) with "
        "unsupervised classifier-free guidance; exact-match and token accuracy.",
        paper=PAPER,
        tags=("decoding", "language_modeling", "diffusion", "generation"),
        example={"steps": 4, "cfg_scale": 0.5, "n_sequences": 4, "batch_size": 2},
        example_config=_TINY_RUN,
    )
    register(
        "mdm_elbo_likelihood",
        "paperzoo_smdm.evaluators:MDMElboLikelihood",
        "Monte Carlo ELBO of validation sequences under a masked diffusion model (low-discrepancy times, "
        "fixed sample count, seeded): nats and bits per token.",
        paper=PAPER,
        tags=("likelihood", "language_modeling", "diffusion"),
        example={"mc_num": 4, "batch_size": 2, "n_sequences": 2},
        example_config=_TINY_RUN,
    )
