"""Parity with transformers 5.23.0's whole-word masking: the word grouping
(``DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask``) and the expansion of a token mask to
whole words (``_whole_word_mask``), on byte-level rows with new domain tokens. The byte-level model has no
offsets mapping, so each token's offsets are its byte range in the text (a new token spans its word's
bytes) and whitespace and reserved ids are passed as special tokens: transformers then starts a word after
every gap or special token exactly as our ``word_ids`` does. Compared exactly (integers and booleans)."""

import numpy as np
import torch
from transformers.data.data_collator import DataCollatorForLanguageModeling

from paperzoo_contextual_weight_distill.masking import RESERVED, WHITESPACE, expand_to_words, word_ids
from paperzoo_contextual_weight_distill.vocab import DomainVocab

WORDS = ["import", "return", "self.", "lambda", "None"]
TEXTS = [
    b"import os\nreturn self.x if self.y else None",
    b"  lambda x: x  # return None\n\tself.z = lambda: 0",
    b"def f(self): return None or import_me",
]


def _batch(vocab: DomainVocab) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    width = max(len(t) for t in TEXTS)
    ids = torch.tensor([list(t) + [256] * (width - len(t)) for t in TEXTS])  # PAD-filled rows
    new = vocab.retokenize(ids)[0]
    offsets = np.zeros((*new.shape, 2), dtype=np.int64)
    for b, row in enumerate(new.tolist()):
        pos = 0
        for i, t in enumerate(row):
            size = len(vocab.subtokens(t - vocab.base_vocab_size)) if t >= vocab.base_vocab_size else 1
            offsets[b, i] = (pos, pos + size)
            pos += size
    special = np.isin(new.numpy(), list(WHITESPACE) + list(RESERVED)).astype(np.int64)
    return new, offsets, special


def test_word_ids_match_transformers(record_property):
    vocab = DomainVocab(WORDS)
    new, offsets, special = _batch(vocab)
    ref, prob_mask = DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask(offsets, special)
    ours = word_ids(new).numpy()
    assert np.array_equal(ours, ref)
    # transformers draws a word's mask at its first token only: exactly our word starts
    prev = np.full_like(ours, -2)
    prev[:, 1:] = ours[:, :-1]
    assert np.array_equal(~((ours >= 0) & (ours != prev)) & (ours >= 0), prob_mask & (ours >= 0))
    record_property("word_ids_mismatches", int((ours != ref).sum()))


def test_whole_word_expansion_matches_transformers(record_property):
    vocab = DomainVocab(WORDS)
    new, offsets, special = _batch(vocab)
    words = word_ids(new)
    ref_words, _ = DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask(offsets, special)
    mismatches = 0
    for seed in range(10):
        chosen = torch.rand(new.shape, generator=torch.Generator().manual_seed(seed)) < 0.2
        ours = expand_to_words(words, chosen).numpy()
        ref = DataCollatorForLanguageModeling._whole_word_mask(ref_words, chosen.numpy())
        mismatches += int((ours != ref).sum())
    assert mismatches == 0
    record_property("whole_word_mask_mismatches", mismatches)
