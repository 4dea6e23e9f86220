"""Parity with the closed form. No package implements cover-encoding byte probabilities, and the official
repository (facebookresearch/Exact-Byte-Level-Probabilities-from-Tokenized-LMs) runs only on SentencePiece
models from a model hub. The reference is therefore a source whose byte law is known: a byte-level Markov
source, the BPE that ``tokenizers`` trains on its texts, and the token LM the two define exactly
(enumerating every text). The byte-level probabilities must equal the source's on every prefix."""

import itertools

import torch

from paperzoo_byte_level_probs.byteprobs import BytePredictor, token_next_byte_probs
from paperzoo_byte_level_probs.markov import MarkovSource, TableLM
from paperzoo_byte_level_probs.vocab import train_bpe


def test_byte_probabilities_equal_the_markov_source(record_property):
    src = MarkovSource.random(b"abcd", 4, seed=3, sharpness=1.5)
    vocab = train_bpe(src.sample(3000, 4), 16)
    assert max(len(b) for b in vocab.token_bytes) >= 3
    lm = TableLM(src, vocab)
    err, naive = 0.0, 0.0
    for n in range(src.length + 1):
        for tup in itertools.product(src.alphabet, repeat=n):
            x = bytes(tup)
            truth = src.next_byte(x)
            err = max(err, float((BytePredictor(lm, vocab, x).probs() - truth).abs().max()))
            if n < 4:
                naive = max(naive, float((token_next_byte_probs(lm, vocab, x) - truth).abs().max()))
    record_property("max_abs_diff_float64", err)
    record_property("naive_token_max_abs_diff", naive)
    # float64 sums of at most a few dozen products: rounding only
    assert err < 1e-12
    assert naive > 0.1


def test_table_lm_is_the_tokenized_source():
    # the exact token LM gives each text's canonical encoding the text's probability
    src = MarkovSource.random(b"abc", 5, seed=1)
    vocab = train_bpe(src.sample(1000, 2), 10)
    lm = TableLM(src, vocab)
    for text, p in src.texts()[::17]:
        ids = torch.tensor([[vocab.bos_id, *vocab.encode(text), vocab.eos_id]])
        logp = torch.log_softmax(lm(ids).logits, -1)[0, :-1].gather(1, ids[0, 1:, None]).sum()
        assert abs(float(logp.exp()) - p) < 1e-14
