"""Cache augmentation against the frozen decoder alone: scoring and greedy generation.

Scoring: one forward pass over batch 8 x 128 tokens, the cache augmented after 64 (the decoder's prefix
pass, the coprocessor over the cache, the decoder over the latents, the decoder over the continuation)
against the decoder's single pass. Generation: greedy decoding of 32 tokens after a 64-token prompt,
batch 4, the cache augmented once after the prompt, against plain cached greedy decoding. Both without
gradients, N = 4 and 16 latents, a default tinylm decoder of the ``stdlib-small`` size (d_model 128,
4 layers). Prints medians over ``--rounds`` interleaved rounds, peak memory, and ratios coprocessor /
frozen decoder.

Run: ``registry bench cache_coprocessor [--threads 2] [--rounds 10]`` (or
``python -m paperzoo_cache_coprocessor.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_cache_coprocessor.coprocessor import KVCacheCoprocessor, greedy_generate

SIZES = {"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 256}


def score(model: torch.nn.Module, ids: torch.Tensor, split: int | None) -> None:
    with torch.no_grad():
        model(ids) if split is None else model(ids, split=split)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time, median of {args.rounds} interleaved rounds; ratios are coprocessor / frozen decoder",
    )
    torch.manual_seed(0)
    decoder = TinyLMDecoder(**SIZES).to(device).eval()
    models = {f"n{n}": KVCacheCoprocessor(n, decoder=decoder).to(device).eval() for n in (4, 16)}
    ids = torch.randint(363, (8, 128), device=device)
    prompt = torch.randint(363, (4, 64), device=device)
    print(compare_header(f"{'work':>22}", "model", (22, 8)))
    works = {"frozen": partial(score, decoder, ids, None)}
    works.update({name: partial(score, m, ids, 64) for name, m in models.items()})
    compare(works, "frozen", device, args.rounds, warmup=1, label=f"{'score 8 x 128':>22}", widths=(22, 8))
    plain = KVCacheCoprocessor(0, decoder=decoder).to(device).eval()
    works = {"frozen": partial(greedy_generate, plain, prompt, 32)}
    works.update({name: partial(greedy_generate, m, prompt, 32) for name, m in models.items()})
    compare(
        works, "frozen", device, args.rounds, warmup=1, label=f"{'generate 4 x (64+32)':>22}", widths=(22, 8)
    )


if __name__ == "__main__":
    main()
