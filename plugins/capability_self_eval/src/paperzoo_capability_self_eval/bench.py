"""Adaptive self-evaluated best-of-N against fixed best-of-N (the same self-evaluation scores every
sample; only the stopping differs) on one question of a tinylm decoder.

Prints the median time (over ``--rounds`` interleaved rounds) and peak memory of answering one question
with at most 8 samples of 8 new tokens, as ratios adaptive / fixed, for a self-evaluation that stops
sampling after the first round (P(better) = 0), one that never stops (P(better) = 1; the adaptive
sampler's overhead: its rounds are smaller batches), and the untrained model's own token.

Run: ``registry bench capability_self_eval [--threads 2] [--rounds 10]`` (or
``python -m paperzoo_capability_self_eval.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_capability_self_eval.adaptive import adaptive_best_of_n, self_eval_scorer
from paperzoo_capability_self_eval.self_eval import SelfEval


def _constant(p: float):
    return lambda seqs, prompt_len: torch.full((len(seqs),), p, dtype=torch.float64)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=10).parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one question, median of {args.rounds} interleaved rounds; ratios adaptive / fixed",
    )
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=64, n_layers=2, n_heads=4, max_seq_len=64).to(device).eval()
    prompt = torch.randint(256, (12,), device=device)
    scorers = {
        "P(better)=0": _constant(0.0),
        "P(better)=1": _constant(1.0),
        "model token": self_eval_scorer(model, SelfEval()),
    }
    print(compare_header(f"{'self-evaluation':>16}", "sampler", (16, 8)))
    for label, scorer in scorers.items():
        works = {
            "fixed": partial(adaptive_best_of_n, model, prompt, scorer, 8, 8, threshold=0.0, rounds="all"),
            "adaptive": partial(adaptive_best_of_n, model, prompt, scorer, 8, 8, threshold=0.5),
        }
        compare(works, "fixed", device, args.rounds, warmup=1, label=f"{label:>16}", widths=(16, 8))


if __name__ == "__main__":
    main()
