"""S-KAN against an MLP of equal parameters and a single-basis (B-spline) KAN: one forward+backward pass.

Prints the median time of one forward+backward pass over ``--rounds`` interleaved rounds, its peak memory
(``paperzoo.bench.peak_memory``: activations saved for backward, gradients and temporaries), and both as
ratios to the MLP. Models are two layers ``[d, h, d]``: the S-KAN (four spaces: B-spline, RBF, Chebyshev,
Fourier, each with 8 basis functions), the B-spline KAN of the same widths (about a quarter of the S-KAN's
parameters) and a ReLU MLP whose hidden width is chosen for the S-KAN's parameter count.

Run: ``registry bench selectable_kan [--threads 2] [--rounds 20]`` (or
``python -m paperzoo_selectable_kan.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import backward_pass, bench_arguments, bench_setup, compare, compare_header
from torch import nn

from paperzoo_selectable_kan.layer import SKANLinear
from paperzoo_selectable_kan.spaces import SPACES

# (d, h, batch)
SIZES = [(2, 4, 1000), (64, 32, 256)]


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _mlp(d: int, target: int) -> nn.Sequential:
    """A ReLU MLP ``[d, w, d]`` with ``w`` chosen so that it has about ``target`` parameters."""
    width = max(1, round((target - d) / (2 * d + 1)))
    return nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, d))


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios / MLP",
    )
    print(compare_header(f"{'[d, h, d] x batch':>20}", "model", (20, 8), extra="params"))
    for d, h, batch in SIZES:
        models = {
            "s_kan": nn.Sequential(SKANLinear(d, h, spaces=SPACES), SKANLinear(h, d, spaces=SPACES)),
            "bspline": nn.Sequential(
                SKANLinear(d, h, spaces=("bspline",)), SKANLinear(h, d, spaces=("bspline",))
            ),
        }
        models["mlp"] = _mlp(d, _params(models["s_kan"]))
        x = torch.randn(batch, d, device=device, requires_grad=True)
        grad = torch.randn(batch, d, device=device)
        works = {name: partial(backward_pass, m.to(device), x, grad) for name, m in models.items()}
        label = f"[{d}, {h}, {d}] x {batch}"
        extra = {name: str(_params(m)) for name, m in models.items()}
        compare(works, "mlp", device, args.rounds, warmup=2, label=label, widths=(20, 8), extra=extra)


if __name__ == "__main__":
    main()
