"""Oscillation-free Quantization for Low-bit Vision Transformers (Shih-Yang Liu, Zechun Liu, Kwang-Ting
Cheng; ICML 2023), arXiv:2302.02210. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(
    title="Oscillation-free Quantization for Low-bit Vision Transformers", year=2023, arxiv="2302.02210"
)

TAGS = ("quantization", "vision_transformer")


@hookimpl
def register_layers(register):
    register(
        "statsq_quantizer",
        "paperzoo_ofq_quant.quant:StatsQuantizer",
        "StatsQ weight fake quantiser: per-row scale 2*mean|w| from weight statistics (not learned), "
        "2^b symmetric levels, straight-through gradient.",
        paper=PAPER,
        tags=TAGS,
        example={"bits": 2},
        example_input=[4, 8],
    )
    register(
        "qk_reparam",
        "paperzoo_ofq_quant.qk_reparam:QKReparamAttention",
        "Self-attention with query-key reparameterisation: logits from the per-head product W_q^T W_k, "
        "quantised as one weight (StatsQ) when bits is set; function-preserving in float.",
        paper=PAPER,
        tags=TAGS,
        example={"dim": 16, "num_heads": 2, "bits": 2},
        example_input=[2, 5, 16],
    )


@hookimpl
def register_trainers(register):
    register(
        "confidence_guided_annealing",
        "paperzoo_ofq_quant.trainer:ConfidenceGuidedAnnealing",
        "Quantisation-aware training with StatsQ weights, then confidence-guided annealing: only weights "
        "near a rounding boundary keep training, confident ones are frozen; counts weight oscillations.",
        paper=PAPER,
        tags=TAGS,
        example={"bits": 2, "cga_start": 0.5, "epochs": 1, "batch_size": 64, "progress": False},
    )
