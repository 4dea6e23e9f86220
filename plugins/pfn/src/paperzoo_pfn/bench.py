"""Speed and peak memory of PFN inference against the exact GP posterior it approximates: the posterior
predictive at the query points of a batch of tasks, by one forward pass of a (randomly initialised, same
size as the claim's) PFN, and by the closed-form GP and scikit-learn's GaussianProcessRegressor, one task
at a time (memory ratios against the torch GP: scikit-learn allocates numpy, not tensors). The second table: one PFN training step against the same transformer without the mask.

Run: ``registry bench pfn [--device cpu] [--threads 1] [--rounds 10] [--tasks 64] [--seq-len 60]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_synthtasks.bench import gp_all, model_step
from paperzoo_synthtasks.priors import pack, sample_gp1d
from paperzoo_synthtasks.reference import gp_posterior, gp_posterior_sklearn

from paperzoo_pfn.model import PFNTransformer


@torch.no_grad()
def pfn_predict(model: PFNTransformer, inputs: torch.Tensor) -> None:
    """Predictive mean and variance of every query, one forward pass."""
    logits = model(inputs)
    model.dist.mean(logits), model.dist.variance(logits)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=60)
    args = parser.parse_args(argv)
    n_train = args.seq_len // 2
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios: ours / baseline")
    x, y = sample_gp1d(args.tasks, args.seq_len, generator=torch.Generator().manual_seed(0))
    model = PFNTransformer(1, n_train, d_model=64, n_layers=3, n_heads=4, num_bars=100).to(device).eval()
    inputs = pack(x, y, n_train).to(device)
    label = f"{args.tasks} x {n_train}+{args.seq_len - n_train}"
    print(compare_header("posterior predictive", "method", (22, 13)))
    works = {
        "GP sklearn": partial(gp_all, gp_posterior_sklearn, x, y, n_train),
        "GP torch": partial(gp_all, gp_posterior, x, y, n_train),
        "PFN": partial(pfn_predict, model, inputs),
    }
    compare(works, "GP torch", device, args.rounds, label=label, widths=(22, 13))
    model.train()
    print(compare_header("train step", "attention", (22, 13)))
    works = {
        "full": partial(model_step, model, inputs, y.to(device), n_train, False),
        "PFN mask": partial(model_step, model, inputs, y.to(device), n_train, True),
    }
    compare(works, "full", device, args.rounds, label=label, widths=(22, 13))


if __name__ == "__main__":
    main()
