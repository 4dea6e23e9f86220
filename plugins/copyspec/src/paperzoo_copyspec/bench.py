"""CopySpec decoding against greedy decoding (the tinylm kit's KV-cached loop) on the stdlib-small checkpoint.

Prints, per prompt kind, the median time of decoding 64 tokens over ``--rounds`` interleaved rounds, its peak
memory (``paperzoo.bench.peak_memory``: tensors allocated during the decode, the KV cache included), the
ratios to greedy decoding, and CopySpec's forward passes per token and acceptance rate. Prompt kinds:
``repeat`` (a 96-byte validation span, a newline, its first 16 bytes again: the claim test's prompts) and
``plain`` (the 96-byte span alone). Both decoders produce the same tokens (checked before timing).

Run: ``registry bench copyspec [--threads 1] [--rounds 10]`` (or ``python -m paperzoo_copyspec.bench``).
"""

from __future__ import annotations

import random
from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.data import stdlib_split
from paperzoo_tinylm.generate import greedy_search

from paperzoo_copyspec.decoding import CopySpecStats, copyspec_generate


def prompt(val: bytes, seed: int, repeat: bool, span: int = 96, again: int = 16) -> torch.Tensor:
    """The claim test's prompt (``repeat``) or the span alone."""
    start = random.Random(seed).randrange(len(val) - span)
    text = list(val[start : start + span])
    return torch.tensor([*text, 10, *text[:again]] if repeat else text)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10, threads=1)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--gamma", type=int, default=3)
    parser.add_argument("--number-copy", type=int, default=10)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"time of decoding {args.new_tokens} tokens, median of {args.rounds} interleaved rounds; ratios are "
        f"copyspec (gamma={args.gamma}, |S|={args.number_copy}) / greedy",
    )
    import paperzoo_tinylm

    model = paperzoo_tinylm.pretrained("stdlib-small").to(device)
    _, val = stdlib_split()
    print(compare_header(f"{'prompt':>10}", "decoder", (10, 8), extra="passes/token acceptance"))
    for kind in ("repeat", "plain"):
        for seed in range(3):
            ids = prompt(val, seed, kind == "repeat").to(device)
            stats = CopySpecStats()
            out = copyspec_generate(model, ids, args.new_tokens, args.gamma, args.number_copy, stats=stats)
            if not torch.equal(out, greedy_search(model, ids, args.new_tokens)):
                raise SystemExit(f"error: copyspec and greedy decoding differ on the {kind} prompt {seed}")
            works = {
                "greedy": partial(greedy_search, model, ids, args.new_tokens),
                "copyspec": partial(
                    copyspec_generate, model, ids, args.new_tokens, args.gamma, args.number_copy
                ),
            }
            extra = {"greedy": f"{1.0:12.3f} {'-':>10}"}
            extra["copyspec"] = f"{stats.passes_per_token:12.3f} {stats.acceptance_rate:10.3f}"
            compare(works, "greedy", device, args.rounds, label=f"{kind} {seed}", widths=(10, 8), extra=extra)


if __name__ == "__main__":
    main()
