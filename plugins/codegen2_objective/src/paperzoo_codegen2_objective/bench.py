"""One training step of CodeGen2's CLM / causal-infilling mixture against a plain next-token step of the
same decoder.

Prints the median time of one step over ``--rounds`` interleaved rounds (one step of each per round, so
that a change of machine load affects all alike), its peak memory (``paperzoo.bench.peak_memory``) and
both as ratios to the next-token step (``paperzoo_tinylm.training.lm_step``). Works: ``lm`` (the
baseline), ``transform`` (the mixture's rewrite of the batch alone, Python on the CPU) and ``mix`` (the
mixture step, p_clm 0.5, T5 span corruption at 15% with mean span 3: an infilling row is ``3k + 1``
tokens longer than the original, ``k`` its span count).

Run: ``registry bench codegen2_objective [--threads 2] [--rounds 20]`` (or
``python -m paperzoo_codegen2_objective.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_codegen2_objective.infill import CLMInfillMix, mix_step

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 256}, (32, 33)),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 512}, (8, 128)),
]


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"time of one training step, median of {args.rounds} interleaved rounds; ratios to next-token "
        "training of the decoder",
    )
    transform = CLMInfillMix(p_clm=0.5)
    gen = torch.Generator().manual_seed(0)
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "step", (27, 10)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(256, (b, t), device=device)
        decoder = TinyLMDecoder(**sizes).to(device)
        works = {
            "lm": partial(lm_step, decoder, ids),
            "transform": partial(transform, ids, gen),
            "mix": partial(mix_step, decoder, ids, transform, gen),
        }
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "lm", device, args.rounds, warmup=2, label=label, widths=(27, 10))


if __name__ == "__main__":
    main()
