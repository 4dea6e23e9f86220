"""Shared fixtures: a small Markov source, a BPE trained on its texts and the exact token LM."""

from __future__ import annotations

from functools import cache

from paperzoo_byte_level_probs.markov import MarkovSource, TableLM
from paperzoo_byte_level_probs.vocab import TokenBytes, train_bpe


@cache
def exact_setup(vocab_size: int = 12, seed: int = 0) -> tuple[MarkovSource, TokenBytes, TableLM]:
    """A 3-letter source of 6-byte texts, a BPE of ``vocab_size`` trained on 2000 of its texts, and the
    token LM that the two define exactly."""
    src = MarkovSource.random(b"abc", 6, seed=seed, sharpness=1.5)
    vocab = train_bpe(src.sample(2000, seed + 1), vocab_size)
    return src, vocab, TableLM(src, vocab)
