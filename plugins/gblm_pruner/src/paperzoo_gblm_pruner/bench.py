"""One-shot pruning of a tinylm decoder at 50%: GBLM-Pruner (per-sequence gradients, then Wanda's
sequential pass with the gradient term) against Wanda, the method it extends, and magnitude pruning.
Each round prunes a fresh copy of the same model on the same calibration sequences.

Run: ``registry bench gblm_pruner [--threads 1] [--rounds 5] [--samples 16] [--seq-len 128]``.
"""

from __future__ import annotations

import copy

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_compress.prune_scores import magnitude_prune_, wanda_prune_
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_gblm_pruner.gblm import gblm_prune_


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"one pruning pass, median of {args.rounds} rounds; ratios: ours / wanda")
    base = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, max_seq_len=args.seq_len).to(device).eval()
    ids = torch.randint(0, 256, (args.samples, args.seq_len), device=device)
    works = {
        "wanda": lambda: wanda_prune_(copy.deepcopy(base), ids, 0.5),
        "gblm": lambda: gblm_prune_(copy.deepcopy(base), ids, 0.5),
        "magnitude": lambda: magnitude_prune_(copy.deepcopy(base), 0.5),
    }
    print(compare_header("samples x len", "method", (14, 9)))
    compare(works, "wanda", device, args.rounds, label=f"{args.samples} x {args.seq_len}", widths=(14, 9))


if __name__ == "__main__":
    main()
