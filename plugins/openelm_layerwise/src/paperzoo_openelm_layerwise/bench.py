"""The layer-wise scaled decoder against a uniform one of about the same parameter count: one
forward+backward pass.

Prints the median time of one training step's forward+backward pass over ``--rounds`` interleaved rounds
(one pass of each model per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``: activations saved for backward, gradients and temporaries), and both as
ratios to the uniform model. Sizes: the claim's (8 layers, 64 wide, heads of 16, batch 16 x 64 tokens;
layer-wise 352,256 parameters, uniform 356,352) and a wider one (8 layers, 128 wide, heads of 32, FFN
widths multiples of 32, batch 8 x 64 tokens; uniform: 4 heads and width 256 in every layer; both
1,359,872 parameters).

Run: ``registry bench openelm_layerwise [--threads 2] [--rounds 5]`` (or ``python -m paperzoo_openelm_layerwise.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.training import lm_step

from paperzoo_openelm_layerwise.experiment import BASE, MODELS
from paperzoo_openelm_layerwise.model import LayerwiseScaledTransformer

WIDE = {
    "d_model": 128,
    "n_layers": 8,
    "head_dim": 32,
    "num_gqa_groups": 1,
    "ffn_dim_divisor": 32,
    "max_seq_len": 64,
}
# (shared sizes, {name: multipliers}, (batch, tokens))
SIZES = [
    (BASE, MODELS, (16, 64)),
    (
        WIDE,
        {"layerwise": MODELS["layerwise"], "uniform": {"qkv_multipliers": 1.0, "ffn_multipliers": 2.0}},
        (8, 64),
    ),
]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "layer-wise / uniform (parameters in brackets)",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "model", (27, 9)))
    for sizes, variants, (b, t) in SIZES:
        ids = torch.randint(363, (b, t), device=device)
        models = {name: LayerwiseScaledTransformer(**sizes, **m).to(device) for name, m in variants.items()}
        works = {name: partial(lm_step, m, ids) for name, m in models.items()}
        n = {name: m.num_parameters() for name, m in models.items()}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        print(f"parameters: layer-wise {n['layerwise']:,}, uniform {n['uniform']:,}")
        compare(works, "uniform", device, args.rounds, warmup=2, label=label, widths=(27, 9))


if __name__ == "__main__":
    main()
