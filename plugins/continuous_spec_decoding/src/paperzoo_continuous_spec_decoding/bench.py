"""Continuous speculative sampling against plain sampling from the target (a Gaussian-mixture AR model).

A target :class:`~paperzoo_continuous_spec_decoding.model.MixtureAR` (``--width``, 3 hidden layers,
window 4) and a draft (width 8, one hidden layer, window 1) are fitted for ``--fit-steps`` Adam steps to
the synthetic mixture process; then sampling ``--new-tokens`` tokens after a zero token is timed, median
of ``--rounds`` interleaved rounds, with its peak memory (``paperzoo.bench.peak_memory``); ratios are
speculative (gamma 2 and 4) / plain. The extra columns give target calls per token and the acceptance
rate. The draft's calls are sequential too: the speed-up needs a target much dearer than the draft.

Run: ``registry bench continuous_spec_decoding [--threads 1] [--rounds 5]`` (or
``python -m paperzoo_continuous_spec_decoding.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header

from paperzoo_continuous_spec_decoding.decoding import SpecStats, autoregressive_sample, speculative_sample
from paperzoo_continuous_spec_decoding.model import MixtureAR
from paperzoo_continuous_spec_decoding.synthetic import fit, mixture_process


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5, threads=1)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--fit-steps", type=int, default=150)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"time of sampling {args.new_tokens} continuous tokens, median of {args.rounds} interleaved rounds; "
        "ratios are speculative / plain sampling from the target",
    )
    data = mixture_process(1024, 10, torch.Generator().manual_seed(0))
    target = MixtureAR(hidden=args.width, window=4, depth=3).double()
    draft = MixtureAR(hidden=8, n_components=2, window=1, depth=1).double()
    fit(target, data, args.fit_steps, batch=64)
    fit(draft, data, args.fit_steps, batch=64)
    target, draft = target.to(device).eval(), draft.to(device).eval()
    prompt = torch.zeros(1, 2, dtype=torch.float64, device=device)
    works = {"plain": partial(autoregressive_sample, target, prompt, args.new_tokens)}
    extra = {"plain": f"{1.0:12.3f} {'-':>10}"}
    for gamma in (2, 4):
        stats = SpecStats()
        for seed in range(20):
            g = torch.Generator(device=device).manual_seed(seed)
            speculative_sample(target, draft, prompt, args.new_tokens, gamma, g, stats)
        works[f"spec g={gamma}"] = partial(speculative_sample, target, draft, prompt, args.new_tokens, gamma)
        extra[f"spec g={gamma}"] = f"{stats.target_calls_per_token:12.3f} {stats.acceptance_rate:10.3f}"
    print(compare_header(f"{'width':>8}", "sampler", (8, 10), extra="target calls/token acceptance"))
    compare(works, "plain", device, args.rounds, label=str(args.width), widths=(8, 10), extra=extra)


if __name__ == "__main__":
    main()
