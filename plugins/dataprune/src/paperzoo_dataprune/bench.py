"""The pruned trainer against the plain supervised loop it wraps: one full run on synthetic data.

Both train the same MLP for the same number of optimizer steps (``match_steps``: ``--epochs`` over the
full set); the pruned trainer first trains ``--n-seeds`` scoring models for one epoch each, scores every
example (the norm of the model's output, a stand-in for any per-example score), keeps the hard half.
Prints the median wall time of a whole ``fit`` over ``--rounds`` interleaved rounds, its peak memory,
and both as ratios to ``supervised``: the price of the scoring stage.

Run: ``registry bench dataprune [--threads 2] [--rounds 5]``.
"""

from __future__ import annotations

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo.builtins.layers import MLP
from paperzoo.data import DataBundle
from paperzoo.trainer import Run, Supervised
from torch.utils.data import TensorDataset

from paperzoo_dataprune.trainer import PrunedDatasetTraining


def output_norm(model: torch.nn.Module, data: DataBundle) -> torch.Tensor:
    """Per-example score: the norm of the model's output."""
    with torch.no_grad():
        return model(data.train.tensors[0]).norm(dim=-1)


def fit(make_trainer, data: DataBundle, device: torch.device) -> None:
    """A fresh model, optimizer and run, trained by the trainer ``make_trainer()`` builds."""
    torch.manual_seed(0)
    model = MLP(data.train.tensors[0].shape[1], 10, [256]).to(device)

    def make(params):
        return torch.optim.SGD(params, lr=0.05), None

    make_trainer().fit(
        Run(model=model, data=data, optimizer=make(model.parameters())[0], make_optimizer=make)
    )


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--examples", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-seeds", type=int, default=2)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"whole fit, median of {args.rounds} interleaved rounds; ratios: pruned / supervised"
    )
    x, y = torch.randn(args.examples, 64), torch.randint(10, (args.examples,))
    data = DataBundle(TensorDataset(x, y), TensorDataset(x[:256], y[:256]), "classification", num_classes=10)
    loop = {"epochs": args.epochs, "batch_size": 128, "progress": False, "device": str(device)}
    trainers = {
        "supervised": lambda: Supervised(**loop),
        "pruned": lambda: PrunedDatasetTraining(
            score=output_norm, keep="hard", n_seeds=args.n_seeds, score_epochs=1, **loop
        ),
    }
    print(compare_header("examples x epochs", "trainer", (17, 10)))
    works = {name: (lambda m=m: fit(m, data, device)) for name, m in trainers.items()}
    compare(
        works, "supervised", device, args.rounds, label=f"{args.examples} x {args.epochs}", widths=(17, 10)
    )


if __name__ == "__main__":
    main()
