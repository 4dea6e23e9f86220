"""The SSP score against the embedding pass it needs anyway: k-means' share of the scoring cost.

``embed`` is one evaluation pass of an MLP encoder over the examples, capturing its penultimate features;
``ssp`` is the whole ``ssl_prototype_score`` (the same pass, then scikit-learn k-means with ``--n-init``
restarts and the distance to the nearest centroid). Prints median wall times over ``--rounds``
interleaved rounds, peak (torch) memory, and both as ratios to ``embed``.

Run: ``registry bench data_pruning_ssp [--threads 2] [--rounds 5]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo.builtins.layers import MLP
from paperzoo.data import DataBundle
from torch.utils.data import TensorDataset

from paperzoo_data_pruning_ssp.embed import embed
from paperzoo_data_pruning_ssp.evaluators import SSLPrototypeScore


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--n-init", type=int, default=3)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios: ssp / embed")
    print(compare_header("examples x k", "score", (14, 6)))
    for n, k in ((2048, 10), (8192, 100)):
        x, y = torch.randn(n, 64), torch.randint(10, (n,))
        data = DataBundle(TensorDataset(x, y), None, "classification", num_classes=10)
        model = MLP(64, 10, [256, 128]).to(device)
        ssp = SSLPrototypeScore(n_clusters=k, n_init=args.n_init, batch_size=1024)
        works = {
            "embed": partial(embed, model, data.train, batch_size=1024),
            "ssp": partial(ssp.scores, model, data),
        }
        compare(works, "embed", device, args.rounds, label=f"{n} x {k}", widths=(14, 6))


if __name__ == "__main__":
    main()
