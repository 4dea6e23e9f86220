"""Continuous Speculative Decoding for Autoregressive Image Generation (Wang, Zhang, Ding, Yang, Li &
Xiang, 2024), arXiv:2411.11925.

Registration only: nothing heavy is imported here. The decoder is
``paperzoo_continuous_spec_decoding.decoding.speculative_sample``; the density verify-and-accept step it
uses is the tinylm kit's ``paperzoo_tinylm.speculative``.
"""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Continuous Speculative Decoding for Autoregressive Image Generation",
    year=2024,
    arxiv="2411.11925",
)


@hookimpl
def register_evaluators(register):
    register(
        "continuous_speculative_sampler",
        "paperzoo_continuous_spec_decoding.evaluators:ContinuousSpeculativeSampler",
        "Speculative sampling of continuous tokens: a small Gaussian-mixture autoregressive draft proposes "
        "gamma tokens, the target accepts each with min(1, p/q) and resamples the residual max(0, p - q) "
        "by acceptance-rejection: target calls per token, acceptance rate, two-sample KS statistic (and its 1% critical value) against plain sampling.",
        paper=PAPER,
        tags=("decoding", "speculative_decoding", "generation", "continuous_tokens"),
        example={"gamma": 3, "n_sequences": 8, "n_tokens": 8, "draft_noise": 0.05},
    )
