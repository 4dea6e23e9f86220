"""Cost per answer of in-context navigation against plain temperature sampling of as many answers.

A tinylm decoder (``d_model`` 128, 4 layers, random weights) answers one 12-token question ``k`` times
with answers of 8 tokens (the separator never comes first: every answer is full length). Prints the
median time (over ``--rounds`` interleaved rounds) and peak memory, as ratios to sampling the ``k``
answers in one batch, for: ICN (``k`` sequential steps, prompts growing by one answer each),
ICN with the official first-token exclusion (one extra forward per step), and sampling the ``k``
answers one at a time (the sequential floor ICN cannot go below).

Run: ``registry bench icn [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_icn.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_icn.navigate import in_context_navigation, sample_answers

SEP = 44


def one_at_a_time(model, question, k, new, generator):
    """``k`` separate single-answer samples: the sequential baseline."""
    return [sample_answers(model, question, 1, new, SEP, generator=generator) for _ in range(k)]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--new-tokens", type=int, default=8)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"wall time, median of {args.rounds} interleaved rounds; ratios / batched sampling"
    )
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, max_seq_len=256).to(device).eval()
    with torch.no_grad():
        model.lm_head.weight[SEP] = 0.0  # never an early stop: equal work per answer
    question = torch.randint(256, (12,), device=device)
    gen = torch.Generator(device).manual_seed(0)
    new = args.new_tokens
    print(compare_header("k answers", "decoder", (10, 18)))
    for k in (4, 8):
        works = {
            "sampling (batch)": partial(sample_answers, model, question, k, new, SEP, generator=gen),
            "sampling (1 by 1)": partial(one_at_a_time, model, question, k, new, gen),
            "ICN": partial(in_context_navigation, model, question, k, new, SEP),
            "ICN (official)": partial(
                in_context_navigation, model, question, k, new, SEP, exclude_first=True, complete_from="bare"
            ),
        }
        compare(works, "sampling (batch)", device, args.rounds, warmup=1, label=f"{k:>10}", widths=(10, 18))


if __name__ == "__main__":
    main()
