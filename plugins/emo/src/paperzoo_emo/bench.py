"""One EMO training step against one plain cross-entropy step of the same tinylm decoder.

Prints the median time of a forward+backward pass with EMO's loss (mode 1, fixed cost) and with the
plain cross-entropy (``paperzoo_tinylm.training.lm_loss``), over ``--rounds`` interleaved rounds, their peak
memory (``paperzoo.bench.peak_memory``) and both as ratios to the cross-entropy step. Vocabularies 363 (the
kit's byte vocabulary) and 32,000. EMO never forms the ``V x V`` cost matrix: it needs the softmax
``[N, V]`` (which cross-entropy has too), one product ``q @ E_hat`` ``[N, d]`` and the normalised
embeddings ``[V, d]``.

Run: ``registry bench emo [--threads 2] [--rounds 10]`` (or ``python -m paperzoo_emo.bench``).
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.training import lm_step

from paperzoo_emo.loss import emo_loss

# (vocabulary, (batch, tokens))
SIZES = [(363, (8, 128)), (32000, (4, 128))]
SIZE = {"d_model": 128, "n_layers": 4, "n_heads": 4, "max_seq_len": 128}


def emo_step(model: TinyLMDecoder, ids: torch.Tensor, cost: torch.Tensor) -> None:
    """One forward and backward pass of EMO's loss (next-token targets); the gradients are released."""
    logits = model(ids).logits[:, :-1].float()
    emo_loss(logits, ids[:, 1:], cost).backward()
    model.zero_grad(set_to_none=True)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=10)
    args = parser.parse_args(argv)
    device = bench_setup(
        args,
        f"wall time of one forward+backward pass, median of {args.rounds} interleaved rounds; ratios are "
        "EMO / cross-entropy (d_model 128, 4 layers)",
    )
    print(compare_header(f"{'vocab':>7} {'(B, T)':>10}", "loss", (18, 4)))
    for vocab, (b, t) in SIZES:
        model = TinyLMDecoder(vocab_size=vocab, **SIZE).to(device)
        ids = torch.randint(vocab, (b, t), device=device)
        cost = model.lm_head.weight.detach().clone()
        works = {"ce": partial(lm_step, model, ids), "emo": partial(emo_step, model, ids, cost)}
        compare(
            works, "ce", device, args.rounds, warmup=1, label=f"{vocab:>7} {str((b, t)):>10}", widths=(18, 4)
        )


if __name__ == "__main__":
    main()
