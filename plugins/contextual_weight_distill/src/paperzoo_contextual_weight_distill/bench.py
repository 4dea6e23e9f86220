"""Cost of one contextual-distillation step and of the curriculum's masking, against a plain MLM step.

Four works on the same tinylm encoder (extended by 8 words) and batch, timed over ``--rounds``
interleaved rounds (one call of each per round, so that a change of machine load affects all alike), with
their peak memory (``paperzoo.bench.peak_memory``), as ratios to ``mlm_token`` (BERT token masking, one
forward and backward pass of the whole model):

- ``distill``: one distillation step's passes (a teacher forward without gradients on the old
  tokenization, a student forward and backward to the new embedding rows on the new one);
- ``mlm_whole_word`` / ``mlm_span``: the same MLM step with the curriculum's whole-word or span masking.

Retokenization (a Python pass over the bytes, done once per batch) is included in ``distill`` and
excluded elsewhere. Run: ``registry bench contextual_weight_distill [--threads 2] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMEncoder

from paperzoo_contextual_weight_distill.distill import _loss_through_rows
from paperzoo_contextual_weight_distill.masking import MaskingStage
from paperzoo_contextual_weight_distill.mlm import mlm_loss
from paperzoo_contextual_weight_distill.vocab import DomainVocab, extend_vocab, init_new_rows


def mlm_step(model: torch.nn.Module, stage: MaskingStage, ids: torch.Tensor, g: torch.Generator) -> None:
    """One MLM forward and backward pass with ``stage``'s masking; gradients released."""
    mlm_loss(model, stage(ids, g)).backward()
    model.zero_grad(set_to_none=True)


def distill_step(
    model: torch.nn.Module, old: torch.Tensor, vocab: DomainVocab, rows: torch.nn.Parameter
) -> None:
    """One distillation step's passes (retokenization, teacher, student, backward to ``rows``)."""
    _loss_through_rows(model, old, vocab, "last", rows).backward()
    rows.grad = None


WORDS = ["return", "import", "self.", "lambda", "raise", "isinstance", "None", "def "]
TEXT = b"def f(self, x):\n    if isinstance(x, int):\n        return None\n    import os; raise ValueError(lambda: 0)\n"


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, f"wall time of one step, median of {args.rounds} interleaved rounds; ratios to mlm_token"
    )
    vocab = DomainVocab(WORDS)
    print(compare_header(f"{'d_model, (B, T)':>16}", "work", (18, 15)))
    for d, (b, t) in ((64, (32, 64)), (128, (16, 128))):
        base = TinyLMEncoder(d_model=d, n_layers=4, n_heads=4, max_seq_len=t, tie_embeddings=True)
        model = extend_vocab(base, len(vocab)).to(device)
        init_new_rows(model, vocab, "mean")
        text = (TEXT * (b * t // len(TEXT) + 1))[: b * t]
        old = torch.tensor(list(text), device=device).view(b, t)
        new = vocab.retokenize(old)[0]
        g = torch.Generator(device=device).manual_seed(0)
        rows = torch.nn.Parameter(model.tok_embed.weight[363:].detach().clone())
        stages = {name: MaskingStage(strategy=name, rate=0.15) for name in ("token", "whole_word", "span")}

        works = {f"mlm_{name}": partial(mlm_step, model, stage, new, g) for name, stage in stages.items()}
        works["distill"] = partial(distill_step, model, old, vocab, rows)
        compare(
            works,
            "mlm_token",
            device,
            args.rounds,
            warmup=2,
            label=f"{d:>6}, {str((b, t)):>9}",
            widths=(18, 15),
        )


if __name__ == "__main__":
    main()
