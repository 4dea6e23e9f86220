"""MG-Select against single sampling and plain best-of-N (the same N samples, scored by their own
log-likelihood) on one episode of a tinylm policy.

Prints the median time (over ``--rounds`` interleaved rounds) and peak memory of choosing an action chunk
for one prompt, as ratios to single sampling: one sample; best-of-N by log-likelihood (one extra forward
pass over the N candidates); MG-Select (two extra forward passes: the conditional and the
condition-masked reference).

Run: ``registry bench mg_select [--threads 1] [--rounds 10] [--n 8] [--horizon 16]`` (or
``python -m paperzoo_mg_select.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.best_of_n import best_of_n
from paperzoo_tinylm.generate import sample
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_mg_select.goal_reaching import STATE_POSITIONS, TEXT_POSITIONS, prompt_ids
from paperzoo_mg_select.mg_select import mg_select


def log_likelihood(model: torch.nn.Module):
    """The plain best-of-N scorer: each candidate's summed log-probability of its action tokens."""

    @torch.no_grad()
    def scorer(seqs: torch.Tensor, prompt_len: int) -> torch.Tensor:
        logp = model(seqs).logits[:, prompt_len - 1 : -1].float().log_softmax(-1)
        return logp.gather(-1, seqs[:, prompt_len:, None]).squeeze(-1).sum(1).double()

    return scorer


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--horizon", type=int, default=16)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"one prompt, median of {args.rounds} interleaved rounds; ratios: selector / single sampling"
    )
    torch.manual_seed(0)
    model = TinyLMDecoder(d_model=128, n_layers=4, n_heads=4, max_seq_len=64).to(device).eval()
    prompt = torch.tensor(prompt_ids((0, 1), (2, 2)), device=device)
    gen = torch.Generator(device).manual_seed(0)
    masked = STATE_POSITIONS + TEXT_POSITIONS
    works = {
        "single": partial(torch.no_grad()(sample), model, prompt[None], args.horizon, generator=gen),
        f"best-of-{args.n} (log-lik)": partial(
            best_of_n, model, prompt, args.n, log_likelihood(model), args.horizon, generator=gen
        ),
        f"MG-Select N={args.n}": partial(
            mg_select, model, prompt, args.n, args.horizon, masked, generator=gen
        ),
    }
    print(compare_header(f"{'horizon':>8}", "selector", (8, 22)))
    compare(works, "single", device, args.rounds, warmup=1, label=f"{args.horizon:>8}", widths=(8, 22))


if __name__ == "__main__":
    main()
