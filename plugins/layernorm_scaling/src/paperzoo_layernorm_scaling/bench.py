"""The LayerNorm-Scaling decoder against the Pre-LN tinylm decoder of the same size: one forward+backward
pass.

Prints the median time of one training step's forward+backward pass over ``--rounds`` interleaved rounds
(one pass of each model per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``), and both as ratios to Pre-LN. Both models have the same parameters;
LayerNorm Scaling adds one multiplication per sublayer norm. Sizes: the claim test's (12 blocks, 32 wide,
batch 16 x 32 tokens) and a larger one (12 blocks, 256 wide, batch 8 x 256 tokens).

Run: ``registry bench layernorm_scaling [--threads 2] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_layernorm_scaling.model import LayerNormScalingDecoder

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 32, "n_layers": 12, "n_heads": 2, "max_seq_len": 64}, (16, 32)),
    ({"d_model": 256, "n_layers": 12, "n_heads": 8, "max_seq_len": 256}, (8, 256)),
]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are LNS / Pre-LN",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "model", (27, 7)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(363, (b, t), device=device)
        models = {
            "pre_ln": TinyLMDecoder(**sizes).to(device),
            "lns": LayerNormScalingDecoder(**sizes).to(device),
        }
        works = {name: partial(lm_step, m, ids) for name, m in models.items()}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "pre_ln", device, args.rounds, warmup=2, label=label, widths=(27, 7))


if __name__ == "__main__":
    main()
