"""Byte-level next-byte distribution against the naive one: one prediction on a prompt of ``n`` bytes.

The naive prediction is one forward pass over the prompt's canonical tokens (the first byte of the next
token). The byte-level one, from scratch (``byte_level``), runs one batched forward pass over the ``L``
contexts ``<bos> encode(x[:i])`` with ``i > n - L`` (``L``: the longest token, 8 bytes here) and sums over
the cover encodings; a sampler that has just predicted the previous byte pays one new context
(``byte_level_step``: extend by one byte, then predict).
Model: a tinylm decoder (2 blocks, 32 wide) over a 16-token BPE of a Markov source's texts. Ratios are
ours / naive token conditioning.

Run: ``registry bench byte_level_probs [--rounds 20]`` (or ``python -m paperzoo_byte_level_probs.bench``).
"""

from __future__ import annotations

import copy

from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_byte_level_probs.byteprobs import BytePredictor, token_next_byte_probs
from paperzoo_byte_level_probs.markov import MarkovSource
from paperzoo_byte_level_probs.vocab import train_bpe

PROMPT_BYTES = (8, 32)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    parser = bench_arguments(__doc__.splitlines()[0], rounds=20)
    args = parser.parse_args(argv)
    device = bench_setup(
        args, "time of one next-byte prediction, median of interleaved rounds; ratios ours / naive"
    )
    src = MarkovSource.random(b"abc", 64, seed=0, sharpness=1.5)
    texts = src.sample(512, 1)
    vocab = train_bpe(texts, 16)
    model = TinyLMDecoder(vocab_size=len(vocab), d_model=32, n_layers=2, n_heads=2, max_seq_len=80)
    model = model.to(device).eval()
    print(compare_header(f"{'prompt bytes':>12}", "method", (12, 16)))
    for n in PROMPT_BYTES:
        prompt = texts[0][:n]
        before = BytePredictor(model, vocab, prompt[:-1])
        before.probs()  # its tables, as a sampler holds them after predicting the previous byte

        def step(p=before, b=prompt[-1:]):
            q = copy.copy(p)
            q.tables = dict(p.tables)
            q.extend(b)
            return q.probs()

        works = {
            "naive_token": lambda x=prompt: token_next_byte_probs(model, vocab, x),
            "byte_level": lambda x=prompt: BytePredictor(model, vocab, x).probs(),
            "byte_level_step": step,
        }
        compare(works, "naive_token", device, args.rounds, warmup=2, label=f"{n:>12}", widths=(12, 16))


if __name__ == "__main__":
    main()
