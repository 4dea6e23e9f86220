"""Kolmogorov-Arnold Transformer (Yang and Wang, ICLR 2025), arXiv:2409.10594. Registration only:
nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="Kolmogorov-Arnold Transformer", year=2025, arxiv="2409.10594")


@hookimpl
def register_layers(register):
    register(
        "kat_group_rational",
        "paperzoo_kat.rational:GroupRational",
        "KAT's group-rational activation P(x) / (1 + |b_1 x + ... + b_n x^n|) on (..., dim), coefficients "
        "shared within channel groups, initialised to GELU or the identity.",
        paper=PAPER,
        tags=("activation", "kan"),
        example={"dim": 16, "num_groups": 4},
        example_input=[2, 3, 16],
    )
    register(
        "grkan_ffn",
        "paperzoo_kat.model:GRKANFFN",
        "KAT's channel mixer: two GR-KAN layers (group rational then Linear), identity- and GELU-initialised "
        "rationals, variance-preserving Linear init; replaces a transformer MLP.",
        paper=PAPER,
        tags=("ffn", "kan", "transformer"),
        example={"dim": 16, "num_groups": 4},
        example_input=[2, 3, 16],
    )
    register(
        "kat_block",
        "paperzoo_kat.model:KATBlock",
        "Pre-norm transformer block on (B, L, dim) with the GR-KAN channel mixer (ffn='grkan') or ViT's "
        "GELU MLP (ffn='mlp').",
        paper=PAPER,
        tags=("block", "transformer", "kan"),
        example={"dim": 16, "num_heads": 2, "num_groups": 4},
        example_input=[2, 5, 16],
    )
    register(
        "kat_vit",
        "paperzoo_kat.model:TinyKAT",
        "A small KAT image classifier (patch embedding, class token, KAT blocks); ffn='mlp' gives the "
        "matching ViT.",
        paper=PAPER,
        tags=("model", "vision", "classification"),
        example={"image_size": 8, "patch_size": 2, "dim": 16, "depth": 1, "num_heads": 2, "num_groups": 4},
        example_input=[2, 1, 8, 8],
    )
