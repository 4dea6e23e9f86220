"""Cost of the PPL-p% sparsity evaluator against one plain perplexity evaluation of the same sequences.

The evaluator runs one dense pass, then per CETT bisection step one threshold search per layer and one
sparse pass; ``tol`` sets the number of steps (the reference's 1e-6: 20 steps). Printed: median time and
peak memory of each, and ratios to the plain perplexity pass.

Run: ``registry bench sparsing_law [--threads 2] [--rounds 3]`` (or ``python -m paperzoo_sparsing_law.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_loss

from paperzoo_sparsing_law.pplp import ppl_p_sparsity


def _perplexity(model: torch.nn.Module, ids: torch.Tensor) -> float:
    with torch.no_grad():
        return float(lm_loss(model, ids).exp())


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=3)
    args = parser.parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios to one perplexity pass")
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, ffn="mlp", activation="relu",
                          vocab_size=256, max_seq_len=128).to(device).eval()  # fmt: skip
    ids = torch.randint(256, (8, 128), device=device)
    works = {
        "perplexity": partial(_perplexity, model, ids),
        "pplp_tol1e-4": partial(ppl_p_sparsity, model, ids, p=1.0, tol=1e-4, num_thresholds=4096),
        "pplp_reference": partial(ppl_p_sparsity, model, ids, p=1.0),
    }
    print(compare_header(f"{'(B, T)':>10}", "evaluation", (10, 16)))
    compare(works, "perplexity", device, args.rounds, warmup=0, label=f"{str((8, 128)):>10}", widths=(10, 16))


if __name__ == "__main__":
    main()
