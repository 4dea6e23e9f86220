"""Overhead of measuring FFN neuron statistics against a plain forward pass of the same model and
inputs: a tinylm decoder read through its hook names, and a plain torch MLP read through module
forward hooks.

Prints the median time of each (``--rounds`` interleaved rounds), its peak memory, and both as ratios to
the plain forward pass. Run: ``registry bench ffn_brick_analysis [--threads 2] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

from paperzoo_ffn_brick_analysis.specialization import neuron_statistics


@torch.no_grad()
def forward(model: nn.Module, x: torch.Tensor) -> None:
    model.eval()
    model(x)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(
        args, "median time of one pass over the batch; ratios are statistics / plain forward"
    )
    lm = TinyLMDecoder(
        vocab_size=256,
        d_model=128,
        n_layers=4,
        n_heads=4,
        d_ff=512,
        max_seq_len=128,
        ffn="mlp",
        activation="relu",
    ).to(device)
    mlp = nn.Sequential(
        nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
    )
    mlp = mlp.to(device)
    cases = [
        ("tinylm 4x128, (16, 128)", lm, torch.randint(256, (16, 128), device=device)),
        ("mlp 2x1024, 2048", mlp, torch.randn(2048, 256, device=device)),
    ]
    print(compare_header(f"{'model, batch':>24}", "method", (24, 10)))
    for label, model, x in cases:
        works = {"forward": partial(forward, model, x), "stats": partial(neuron_statistics, model, [x])}
        compare(works, "forward", device, args.rounds, warmup=2, label=f"{label:>24}", widths=(24, 10))


if __name__ == "__main__":
    main()
