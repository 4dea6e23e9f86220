"""The Mix-LN decoder against the Pre-LN tinylm decoder of the same size: one forward+backward pass.

Prints the median time of one training step's forward+backward pass over ``--rounds`` interleaved rounds
(one pass of each model per round, so that a change of machine load affects both alike), its peak memory
(``paperzoo.bench.peak_memory``: activations saved for backward, gradients and temporaries), and both as
ratios to Pre-LN. Both models have the same parameters (Mix-LN only moves the norms of its first
``floor(alpha * n_layers)`` blocks after the residual addition). Sizes: the claim test's (12 blocks, 32
wide, batch 16 x 32 tokens) and a larger one (12 blocks, 128 wide, batch 8 x 128 tokens).

Run: ``registry bench mix_ln [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_mix_ln.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_mix_ln.model import MixLNTransformer

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 32, "n_layers": 12, "n_heads": 2, "max_seq_len": 64}, (16, 32)),
    ({"d_model": 128, "n_layers": 12, "n_heads": 4, "max_seq_len": 128}, (8, 128)),
]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--alpha", type=float, default=0.25)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are Mix-LN "
        f"(alpha={args.alpha}) / Pre-LN",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "model", (27, 7)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(363, (b, t), device=device)
        models = {
            "pre_ln": TinyLMDecoder(**sizes).to(device),
            "mix_ln": MixLNTransformer(alpha=args.alpha, **sizes).to(device),
        }
        works = {name: partial(lm_step, m, ids) for name, m in models.items()}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "pre_ln", device, args.rounds, warmup=2, label=label, widths=(27, 7))


if __name__ == "__main__":
    main()
