"""The vectorised kernel recursion over a grid of ``(C_b, C_W)`` against a loop of
``scipy.integrate.quad`` Gaussian integrals (the baseline a reader would write), same grid and depth.

Prints the time of each (median of ``--rounds`` interleaved rounds, process CPU time) and the ratio
ours / baseline, and the largest relative difference of the final kernels. Run:
``registry bench criticality [--rounds 3] [--grid 8] [--depth 10]``.
"""

from __future__ import annotations

import math

import torch
from paperzoo.bench import bench_arguments, bench_setup, interleaved_medians

from paperzoo_criticality.kernel import activation, kernel_recursion


def quad_recursion(sigma: str, c_bs: list[float], c_ws: list[float], depth: int) -> list[list[float]]:
    """The baseline: one ``scipy.integrate.quad`` per grid point and layer."""
    from scipy import integrate

    act = activation(sigma)

    def f(z: float) -> float:
        return float(act(torch.tensor(z, dtype=torch.float64))) ** 2

    out = []
    for c_b in c_bs:
        row = []
        for c_w in c_ws:
            K = 1.0
            for _ in range(depth - 1):
                sd = math.sqrt(K)
                value = integrate.quad(lambda z, K=K: f(z) * math.exp(-z * z / (2 * K)), -12 * sd, 12 * sd)[0]
                K = c_b + c_w * value / math.sqrt(2 * math.pi * K)
            row.append(K)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times and the ratio."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=3, threads=1)
    parser.add_argument("--grid", type=int, default=8, help="grid points per axis")
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--activation", default="tanh")
    args = parser.parse_args(argv)
    bench_setup(
        args,
        f"{args.activation}, {args.grid}x{args.grid} (C_b, C_W) grid, {args.depth} layers; "
        "CPU time, median of interleaved rounds; ratio ours / scipy quad loop",
    )
    c_bs = [0.5 * i / max(args.grid - 1, 1) for i in range(args.grid)]
    c_ws = [0.5 + 2.5 * i / max(args.grid - 1, 1) for i in range(args.grid)]
    grid_b = torch.tensor(c_bs, dtype=torch.float64)[:, None]
    grid_w = torch.tensor(c_ws, dtype=torch.float64)[None, :]
    ours = kernel_recursion(args.activation, 1.0, grid_b, grid_w, args.depth)[..., -1]
    base = torch.tensor(quad_recursion(args.activation, c_bs, c_ws, args.depth), dtype=torch.float64)
    print(f"max rel diff of K({args.depth}): {float(((ours - base) / base).abs().max()):.1e}")
    works = {
        "ours": lambda: kernel_recursion(args.activation, 1.0, grid_b, grid_w, args.depth),
        "quad": lambda: quad_recursion(args.activation, c_bs, c_ws, args.depth),
    }
    t = interleaved_medians(works, torch.device("cpu"), args.rounds)
    print(
        f"ours {t['ours'] * 1e3:.2f} ms, scipy quad loop {t['quad'] * 1e3:.1f} ms, "
        f"time ratio ours / quad {t['ours'] / t['quad']:.4f}"
    )


if __name__ == "__main__":
    main()
