"""The kit's AUC (one sort, ties by mean rank) against scikit-learn's ``roc_auc_score`` on the same scores.

Prints the median time over ``--rounds`` interleaved rounds and the peak tensor memory, both as ratios to
scikit-learn (whose time includes the tensor-to-array conversion a caller holding tensors pays). Sizes: 10^4
and 10^6 scores with ties.

Run: ``registry bench struct [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_struct.bench``).
"""

from __future__ import annotations

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_struct.metrics import auc


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    from sklearn.metrics import roc_auc_score

    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios ours / scikit-learn")
    print(compare_header(f"{'n':>10}", "impl", (10, 8)))
    for n in (10_000, 1_000_000):
        scores = (torch.randint(0, 1000, (n,)).double() / 1000).to(device)
        labels = torch.randint(2, (n,)).to(device)
        works = {
            "sklearn": lambda s=scores, y=labels: roc_auc_score(y.cpu().numpy(), s.cpu().numpy()),
            "struct": lambda s=scores, y=labels: auc(s, y),
        }
        compare(works, "sklearn", device, args.rounds, warmup=1, label=str(n), widths=(10, 8))


if __name__ == "__main__":
    main()
