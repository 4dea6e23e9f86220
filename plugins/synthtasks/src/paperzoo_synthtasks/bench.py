"""Speed and peak memory of the kit's pieces: the closed-form GP posterior against scikit-learn's
``GaussianProcessRegressor`` (the same predictive, one task at a time), and one forward+backward pass of
the masked (x, y) transformer with a bar head against the same encoder without the mask.

Run: ``registry bench synthtasks [--device cpu] [--threads 1] [--rounds 10]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_synthtasks.bars import BarDistributionHead
from paperzoo_synthtasks.priors import pack, sample_gp1d
from paperzoo_synthtasks.reference import gp_posterior, gp_posterior_sklearn
from paperzoo_synthtasks.xy_transformer import XYTransformer


def gp_all(fn, x: torch.Tensor, y: torch.Tensor, n_train: int) -> None:
    """The posterior predictive of every task in the batch."""
    for xi, yi in zip(x, y):
        fn(xi[:n_train], yi[:n_train], xi[n_train:])


def model_step(
    model: torch.nn.Module, inputs: torch.Tensor, y: torch.Tensor, n_train: int, masked: bool
) -> None:
    """One forward and backward pass of the bar NLL (``masked=False``: full attention, no mask)."""
    if masked:
        logits = model(inputs, n_train=n_train)
    else:
        x, obs = inputs[..., :1], inputs[..., 1:]
        h = model.enc_x(x) + model.enc_y(obs)
        logits = model.head(model.encoder(h)[:, n_train:])
    model.head.dist.nll(logits, y[:, n_train:]).mean().backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--n-train", type=int, default=40)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios: ours / baseline")
    x, y = sample_gp1d(args.tasks, args.seq_len, generator=torch.Generator().manual_seed(0))
    cpu = torch.device("cpu")
    label = f"{args.tasks} tasks x {args.seq_len}"
    print(compare_header("GP posterior", "method", (22, 9)))
    works = {
        "sklearn": partial(gp_all, gp_posterior_sklearn, x, y, args.n_train),
        "torch": partial(gp_all, gp_posterior, x, y, args.n_train),
    }
    compare(works, "sklearn", cpu, args.rounds, label=label, widths=(22, 9))
    model = XYTransformer(1, args.n_train, d_model=64, n_layers=4, head=BarDistributionHead(64, num_bars=100))
    model.to(device)
    inputs, y = pack(x, y, args.n_train).to(device), y.to(device)
    print(compare_header("transformer fwd+bwd", "attention", (22, 9)))
    works = {
        "full": partial(model_step, model, inputs, y, args.n_train, False),
        "pfn mask": partial(model_step, model, inputs, y, args.n_train, True),
    }
    compare(works, "full", device, args.rounds, label=label, widths=(22, 9))


if __name__ == "__main__":
    main()
