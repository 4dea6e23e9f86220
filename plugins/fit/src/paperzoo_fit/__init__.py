"""FIT: Far-reaching Interleaved Transformers (Chen and Li, 2023), arXiv:2305.12689."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="FIT: Far-reaching Interleaved Transformers", year=2023, arxiv="2305.12689")


@hookimpl
def register_layers(register):
    register(
        "fit_block",
        "paperzoo_fit.block:FITBlock",
        "FIT block: local layers within groups of tokens, latents read their group, global layers over all "
        "latents, tokens read their group's latents back; (x [B,T,d], latents) -> (x, latents).",
        paper=PAPER,
        tags=("block", "attention", "long_context"),
        example={
            "d_model": 16,
            "n_heads": 2,
            "group_size": 4,
            "n_local": 1,
            "n_global": 1,
            "latents_per_group": 2,
        },
        example_input=[2, 12, 16],
    )
    register(
        "fit_encoder",
        "paperzoo_fit.encoder:FITEncoder",
        "FIT encoder: blocks from a layer pattern (e.g. LLGLLG), learned latents per group, bidirectional or "
        "causal; features [B,T,d] in and out, or token ids to per-token logits with vocab_size.",
        paper=PAPER,
        tags=("model", "encoder", "attention", "long_context"),
        example={"d_model": 16, "n_heads": 2, "group_size": 4, "latents_per_group": 2, "pattern": "LGL"},
        example_input=[2, 12, 16],
    )
