"""The analyses' cost against one kNN-LM scoring pass over the same tokens.

Prints the median time (over ``--rounds`` interleaved rounds) and peak memory of: one kNN-LM pass over a
``B x T`` batch (the baseline: forward, exact search, mixture), that pass plus the improved/worsened
split (``token_ppl_delta_split``'s work), that pass plus the three entropies per position
(``entropies_by_position``), and generating ``G`` tokens from the kNN-LM after a ``T - G`` prompt
(``retrieval_entropy_by_length``'s loop: one forward and one search per step, no cache), all as ratios
to the baseline. Model: the stdlib-small checkpoint's shape (128 wide, 4 blocks, random weights: speed
does not depend on them); a datastore of 16,384 random keys, k = 32.

Run: ``registry bench knnlm_generation_analysis [--threads 2] [--rounds 5]`` (or
``python -m paperzoo_knnlm_generation_analysis.bench``).
"""

from __future__ import annotations

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_knn_lm.datastore import Datastore
from paperzoo_knn_lm.knn import KNNLM, target_log_probs
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_knnlm_generation_analysis.analysis import split_deltas
from paperzoo_knnlm_generation_analysis.generation import entropies_by_position, generate

BATCH, LENGTH, GENERATED, STORE = 4, 128, 32, 16_384


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=5)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time on {BATCH} x {LENGTH} tokens, median of {args.rounds} interleaved rounds; ratios are "
        "analysis / one kNN-LM pass",
    )
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, d_ff=384, max_seq_len=256).to(device).eval()
    ids = torch.randint(256, (BATCH, LENGTH + 1), device=device)
    x, y = ids[:, :-1], ids[:, 1:]
    store = Datastore(torch.randn(STORE, 128, device=device), torch.randint(256, (STORE,), device=device))
    knnlm = KNNLM(model, store, k=args.k)

    def one_pass():
        lm, d, i = knnlm.neighbours(x)
        return lm, knnlm.log_probs_from(lm, knnlm.knn_from(d, i, lm.shape[-1]))

    def delta_split():
        lp = target_log_probs(knnlm, x, y)
        return split_deltas(lp.knnlm - lp.lm)

    gen = torch.Generator(device=device)
    works = {
        "knnlm_pass": one_pass,
        "delta_split": delta_split,
        "entropies": lambda: entropies_by_position(knnlm, ids, LENGTH - GENERATED),
        f"generate_{GENERATED}": lambda: generate(
            knnlm, x[:, : LENGTH - GENERATED], GENERATED, generator=gen.manual_seed(0)
        ),
    }
    print(compare_header("", "work", (0, 14)))
    compare(works, "knnlm_pass", device, args.rounds, widths=(0, 14))


if __name__ == "__main__":
    main()
