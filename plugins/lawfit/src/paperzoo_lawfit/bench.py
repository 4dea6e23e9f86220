"""Cost of the fits: ``fit_power_law_const`` (grid start + least squares) and ``fit_curve`` against the
closed-form log-log ``fit_power_law`` on the same 32 noisy points.

Run: ``registry bench lawfit [--rounds 20]`` (or ``python -m paperzoo_lawfit.bench``).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_lawfit.fit import fit_power_law, fit_power_law_const
from paperzoo_lawfit.uncertainty import bootstrap_ci


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times and ratios to ``fit_power_law``."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"CPU time of one fit, median of {args.rounds} rounds; ratios to fit_power_law"
    )
    x = np.geomspace(1.0, 1e5, 32)
    y = (3.0 * x**-0.4 + 0.8) * np.exp(0.01 * np.random.default_rng(0).standard_normal(32))
    works = {
        "power_law": partial(fit_power_law, x, y),
        "power_law_const": partial(fit_power_law_const, x, y),
        "bootstrap_20": partial(bootstrap_ci, fit_power_law, x, y, n_boot=20),
    }
    print(compare_header(f"{'points':>8}", "fit", (10, 16)))
    compare(works, "power_law", device, args.rounds, warmup=1, label=f"{32:>8}", widths=(10, 16))


if __name__ == "__main__":
    main()
