"""OSTQuant's W4A4 model against the float model and plain round-to-nearest W4A4: one inference forward
pass of the outlier fixture (the ``stdlib-small`` decoder) per round.

The learnt transformations are merged into the weights and norms (no online rotation), so the quantised
model has exactly RTN W4A4's modules; the timed OSTQuant model is the fixture after the transformation
(its Hadamard initialisation: learning changes the values, not the structure). The cost of learning is
printed beside it: seconds per optimisation step of ``ostquant_`` (calibration batch of 8 x 64 tokens).

Run: ``registry bench ostquant [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

import copy
from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, best_time, compare, compare_header
from paperzoo_compress.act import quantize_model_wa
from paperzoo_compress.fixture import outlier_tinylm, text_blocks

from paperzoo_ostquant.method import hadamard_, ostquant_


@torch.no_grad()
def forward(model: torch.nn.Module, ids: torch.Tensor) -> None:
    """One inference forward pass."""
    model(ids)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"inference forward, median of {args.rounds} rounds; ratios: ours / float")
    model = outlier_tinylm(0).to(device)
    ids = text_blocks("val", args.batch, args.seq_len).to(device)
    models = {
        "float": model,
        "rtn_w4a4": quantize_model_wa(model, 4, 4, inplace=False),
        "ost_w4a4": quantize_model_wa(hadamard_(copy.deepcopy(model)), 4, 4),
    }
    print(compare_header("batch x seq_len", "model", (17, 9)))
    works = {name: partial(forward, m, ids) for name, m in models.items()}
    compare(works, "float", device, args.rounds, label=f"{args.batch} x {args.seq_len}", widths=(17, 9))
    calib = text_blocks("train", 8, 64, seed=0).to(device)
    steps = 5
    secs = best_time(lambda: ostquant_(copy.deepcopy(model), calib, steps=steps, batch_size=8), device, 1)
    print(
        f"ostquant_ learning: {secs / steps * 1e3:.1f} ms per step (8 x 64 tokens, {steps} steps incl. setup)"
    )


if __name__ == "__main__":
    main()
