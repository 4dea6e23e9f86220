"""One Mixture-of-Denoisers training step (transform + forward + backward) against plain next-token
training of the same decoder.

Prints the median time of one step over ``--rounds`` interleaved rounds (one step of each per round, so
that a change of machine load affects all alike), its peak memory (``paperzoo.bench.peak_memory``) and
both as ratios to the decoder's next-token step (``paperzoo_tinylm.training.lm_step``). Works:
``lm`` (the baseline), ``transform`` (the MoD transform of the batch alone, Python on the CPU),
``mod_dec`` (the decoder trained with MoD in its decoder-only form: inputs + targets, loss on the targets)
and ``mod_encdec`` (an encoder-decoder with the same block sizes, encoder and decoder each ``n_layers``
deep). The paper's seven denoisers, uniform rates.

Run: ``registry bench ul2_mod [--threads 2] [--rounds 20]`` (or ``python -m paperzoo_ul2_mod.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.encdec import TinyLMEncoderDecoder
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_ul2_mod.denoisers import MixtureOfDenoisers
from paperzoo_ul2_mod.training import mod_step

# (model sizes, (batch, tokens))
SIZES = [
    ({"d_model": 32, "n_layers": 2, "n_heads": 4, "max_seq_len": 256}, (16, 32)),
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
    transform = MixtureOfDenoisers()
    gen = torch.Generator().manual_seed(0)
    print(compare_header(f"{'d_model x layers':>16} {'(B, T)':>10}", "step", (27, 10)))
    for sizes, (b, t) in SIZES:
        ids = torch.randint(256, (b, t), device=device)
        decoder = TinyLMDecoder(**sizes).to(device)
        encdec = TinyLMEncoderDecoder(**sizes).to(device)
        works = {
            "lm": partial(lm_step, decoder, ids),
            "transform": partial(transform, ids, gen),
            "mod_dec": partial(mod_step, decoder, ids, transform, gen),
            "mod_encdec": partial(mod_step, encdec, ids, transform, gen),
        }
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {str((b, t)):>10}"
        compare(works, "lm", device, args.rounds, warmup=2, label=label, widths=(27, 10))


if __name__ == "__main__":
    main()
