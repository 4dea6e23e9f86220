"""Diverse beam search against beam search (the tinylm kit's) of the same number of beams on a tinylm
decoder, and against transformers' native group beam search where the installed version has it.

Prints the median wall time of decoding a batch of prompts (``--rounds`` interleaved rounds), the peak
memory, and both as ratios to beam search. The model does one forward pass of all beams per step in
either method; diverse beam search adds the per-group top-k and penalty work, ``G`` small steps.

Run: ``registry bench diverse_beam_search [--threads 2] [--rounds 5]`` (or
``python -m paperzoo_diverse_beam_search.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.generate import beam_search
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_diverse_beam_search.decoding import diverse_beam_search

# (beams, groups)
SETTINGS = [(6, 3), (8, 8)]


def _transformers_group_search(model, ids, beams, groups, new):
    return model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        num_beams=beams,
        num_beam_groups=groups,
        diversity_penalty=0.5,
        max_new_tokens=new,
        do_sample=False,
        pad_token_id=0,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--new", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"wall time of decoding, median of {args.rounds} interleaved rounds; ratios to beam search"
    )
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, max_seq_len=128).to(device).eval()
    ids = torch.randint(256, (args.batch, args.prompt), device=device)
    works_hf = {}
    try:
        import transformers

        if hasattr(transformers.GenerationMixin, "_group_beam_search"):
            from paperzoo_tinylm.convert import to_llama

            works_hf["hf"] = to_llama(model).to(device).eval()
    except Exception:  # the comparison with transformers is optional
        works_hf = {}
    print(compare_header(f"{'(beams, groups)':>16}", "method", (16, 12)))
    for beams, groups in SETTINGS:
        works = {
            "beam": partial(beam_search, model, ids, beams, args.new, num_return_sequences=beams),
            "diverse": partial(
                diverse_beam_search, model, ids, beams, groups, 0.5, args.new, num_return_sequences=beams
            ),
        }
        if "hf" in works_hf:
            works["hf_diverse"] = partial(
                _transformers_group_search, works_hf["hf"], ids, beams, groups, args.new
            )
        with torch.no_grad():
            compare(works, "beam", device, args.rounds, label=f"{str((beams, groups)):>16}", widths=(16, 12))


if __name__ == "__main__":
    main()
