"""An SPT training step against a plain next-token step: one forward+backward pass of a tinylm decoder.

Prints the median time of one training step over ``--rounds`` interleaved rounds (for SPT: drawing each
row's order, segmenting it into units with the phrase lexicon and gathering the permuted batch, then the
same forward and backward pass), its peak memory (``paperzoo.bench.peak_memory``), and both as ratios to
the plain step on the unpermuted batch. Batches are fact sentences of the claim's corpus: the claim's size
(64 wide, 2 blocks, batch 32) and a larger model (128 wide, 4 blocks, batch 64).

Run: ``registry bench semantic_permutation_training [--threads 2] [--rounds 20]``
(or ``python -m paperzoo_semantic_permutation_training.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_semantic_permutation_training.facts import encode_rows, fact_corpus
from paperzoo_semantic_permutation_training.permute import Lexicon, draw_modes
from paperzoo_semantic_permutation_training.trainer import permute_batch

# (model sizes, batch rows)
SIZES = [
    ({"d_model": 64, "n_layers": 2, "n_heads": 4, "max_seq_len": 64}, 32),
    ({"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 64}, 64),
]


def step(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lexicon: Lexicon | None,
    gen: torch.Generator,
) -> None:
    """One step's forward and backward pass, permuting the units first when ``lexicon`` is given."""
    if lexicon is not None:
        modes = draw_modes(len(x), 1 / 3, 1 / 3, gen)
        x, y = permute_batch(x, y, modes, "phrases", lexicon, gen)
    F.cross_entropy(model(x).logits.flatten(0, 1), y.flatten()).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one training step, median of {args.rounds} interleaved rounds; ratios are "
        "SPT (1/3 reversed, 1/3 shuffled, phrase units) / plain next-token training",
    )
    corpus = fact_corpus(40, 40, seed=0)
    lexicon = Lexicon.of(corpus.phrases())
    x_all, y_all = encode_rows([("", s) for s in corpus.sentences()])
    print(compare_header(f"{'d_model x layers':>16} {'batch':>6}", "step", (23, 14)))
    for sizes, b in SIZES:
        idx = torch.randint(len(x_all), (b,), generator=torch.Generator().manual_seed(0))
        x, y = x_all[idx].to(device), y_all[idx].to(device)
        model = TinyLMDecoder(**sizes).to(device)
        gen = torch.Generator().manual_seed(0)
        works = {
            "plain": partial(step, model, x, y, None, gen),
            "spt": partial(step, model, x, y, lexicon, gen),
        }
        label = f"{sizes['d_model']:>6} x {sizes['n_layers']:<7} {b:>6}"
        compare(works, "plain", device, args.rounds, warmup=2, label=label, widths=(23, 14))


if __name__ == "__main__":
    main()
