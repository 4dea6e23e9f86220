"""Speed and peak memory of dropped tinylm decoders against the full model they come from.

A ``stdlib-small``-sized decoder (``d_model`` 128, 4 blocks, SwiGLU ``d_ff`` 384; random weights: speed
does not depend on them) in eval mode; each variant scores ``--batch`` sequences of ``--seq-len`` tokens
(one inference forward, no gradients). Variants: 2 of 4 attention sublayers dropped (Attention Drop),
2 attention + 2 MLP sublayers dropped (a Joint Drop of 4 modules), 2 of 4 blocks dropped (Block Drop).
Prints the median time over ``--rounds`` interleaved rounds and the peak memory, both as ratios to the
full model (tokens/s ratio = 1 / time ratio), then the KV-cache size and parameter ratios.

Run: ``registry bench llm_drop [--device cuda] [--threads 1] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_llm_drop.drop import drop_blocks, drop_modules


@torch.no_grad()
def score(model: torch.nn.Module, ids: torch.Tensor) -> None:
    """One inference forward pass."""
    model(ids)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"inference forward, median of {args.rounds} interleaved rounds; ratios: dropped / full"
    )
    torch.manual_seed(0)
    full = (
        TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, d_ff=384, max_seq_len=args.seq_len)
        .to(device)
        .eval()
    )
    models = {
        "full": full,
        "attn-2": drop_modules(full, attn=[1, 3]),
        "joint-4": drop_modules(full, attn=[1, 3], mlp=[2, 3]),
        "block-2": drop_blocks(full, [2, 3]),
    }
    ids = torch.randint(256, (args.batch, args.seq_len), device=device)
    print(compare_header("batch x tokens", "model", (15, 8)))
    works = {name: partial(score, model, ids) for name, model in models.items()}
    compare(works, "full", device, args.rounds, label=f"{args.batch} x {args.seq_len}", widths=(15, 8))
    n_full = full.num_parameters()
    with torch.no_grad():
        cache = {k: m(ids, use_cache=True).past_key_values for k, m in models.items()}
    nbytes = {k: sum(t.numel() * t.element_size() for t in c.keys + c.values) for k, c in cache.items()}
    print("KV cache / full: " + ", ".join(f"{k} {b / nbytes['full']:.3f}" for k, b in nbytes.items()))
    print(
        "parameters / full: " + ", ".join(f"{k} {m.num_parameters() / n_full:.3f}" for k, m in models.items())
    )


if __name__ == "__main__":
    main()
