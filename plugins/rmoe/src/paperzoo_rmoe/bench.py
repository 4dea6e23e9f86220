"""RMoE's recurrent router against the linear softmax router in the same tinylm MoE decoder: one
forward+backward pass.

Prints the median time of one training step's forward+backward pass over ``--rounds`` interleaved rounds
and its peak memory, both as ratios RMoE / linear router. Sizes: the claim test's (4 blocks of width 32,
8 experts, top-2, router state 16, batch 16 x 32 tokens) and a larger one (4 blocks of width 128, router
state 64, batch 8 x 128 tokens).

Run: ``registry bench rmoe [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_rmoe.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

MOE = {"ffn": "moe", "n_experts": 8, "moe_top_k": 2, "n_layers": 4, "n_heads": 4}
# (model sizes, router state width, (batch, tokens))
SIZES = [
    ({"d_model": 32, "d_ff": 32, "max_seq_len": 64, **MOE}, 16, (16, 32)),
    ({"d_model": 128, "d_ff": 128, "max_seq_len": 128, **MOE}, 64, (8, 128)),
]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "RMoE / linear router",
    )
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "router", (27, 7)))
    for sizes, hidden, (b, t) in SIZES:
        ids = torch.randint(363, (b, t), device=device)
        router = {"router": "recurrent_router_moe", "router_params": {"hidden_size": hidden}}
        models = {
            "linear": TinyLMDecoder(**sizes).to(device),
            "rmoe": TinyLMDecoder(**sizes, ffn_params=router).to(device),
        }
        works = {name: partial(lm_step, m, ids) for name, m in models.items()}
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "linear", device, args.rounds, warmup=2, label=label, widths=(27, 7))


if __name__ == "__main__":
    main()
