"""A byte-level Markov source of fixed-length texts, and the token LM it induces exactly.

``MarkovSource`` draws texts of ``length`` bytes from an alphabet: the first byte from ``init``, each next
from ``trans[previous]``; after ``length`` bytes the text ends. Its next-byte probabilities are known in
closed form. ``TableLM`` is the token-level LM that this source and a tokenizer define: enumerate every
text, encode it as ``<bos> encode(text) <eos>``, and set ``P(token | token prefix)`` to the share of
probability mass of the texts whose encodings continue the prefix with that token. It follows the causal-LM
protocol (``model(ids).logits``), so the byte-level algorithms run on it unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import SimpleNamespace

import torch
from torch import nn

from .vocab import TokenBytes

#: index of "the text ends" in a next-byte distribution (after the 256 byte values)
END = 256


@dataclass
class MarkovSource:
    """First-order Markov texts of ``length`` bytes over ``alphabet`` (float64 probabilities)."""

    alphabet: bytes
    init: torch.Tensor
    trans: torch.Tensor
    length: int

    @classmethod
    def random(cls, alphabet: bytes = b"abc", length: int = 6, seed: int = 0, sharpness: float = 2.0):
        """A source with transition rows drawn from a seeded Dirichlet-like law (``sharpness`` > 0: larger
        makes some bigrams far likelier than others, which BPE then merges)."""
        g = torch.Generator().manual_seed(seed)
        a = len(alphabet)
        logits = sharpness * torch.randn(a + 1, a, generator=g, dtype=torch.float64)
        probs = torch.softmax(logits, -1)
        return cls(bytes(alphabet), probs[0], probs[1:], length)

    def _index(self, byte: int) -> int:
        return self.alphabet.index(byte)

    def prefix_prob(self, data: bytes) -> float:
        """``P(the text starts with data)``."""
        if len(data) > self.length or any(b not in self.alphabet for b in data):
            return 0.0
        if not data:
            return 1.0
        p = float(self.init[self._index(data[0])])
        for a, b in itertools.pairwise(data):
            p *= float(self.trans[self._index(a), self._index(b)])
        return p

    def next_byte(self, data: bytes) -> torch.Tensor:
        """``P(next byte | data)`` over the 256 byte values and ``END`` (``[257]``, float64)."""
        out = torch.zeros(257, dtype=torch.float64)
        if len(data) == self.length:
            out[END] = 1.0
            return out
        row = self.init if not data else self.trans[self._index(data[-1])]
        out[list(self.alphabet)] = row
        return out

    def texts(self) -> list[tuple[bytes, float]]:
        """Every text with its probability."""
        out = []
        for tup in itertools.product(self.alphabet, repeat=self.length):
            data = bytes(tup)
            out.append((data, self.prefix_prob(data)))
        return out

    def sample(self, n: int, seed: int) -> list[bytes]:
        """``n`` texts drawn with a seeded generator."""
        g = torch.Generator().manual_seed(seed)
        first = torch.multinomial(self.init, n, replacement=True, generator=g)
        rows = [first]
        for _ in range(self.length - 1):
            rows.append(torch.multinomial(self.trans[rows[-1]], 1, generator=g).squeeze(1))
        idx = torch.stack(rows, 1).tolist()
        return [bytes(self.alphabet[i] for i in r) for r in idx]


class TableLM(nn.Module):
    """The exact token LM of ``source`` under ``vocab`` (log-probabilities as logits; a prefix that no
    text's encoding starts with gets uniform logits, a token that never follows gets ``-inf``)."""

    def __init__(self, source: MarkovSource, vocab: TokenBytes) -> None:
        super().__init__()
        if vocab.eos_id is None:
            raise ValueError("vocab: accepted: a vocabulary with an <eos> id (texts end)")
        self.vocab_size = len(vocab)
        mass: dict[tuple[int, ...], torch.Tensor] = {}
        for data, p in source.texts():
            seq = (vocab.bos_id, *vocab.encode(data), vocab.eos_id)
            for j in range(1, len(seq)):
                row = mass.setdefault(seq[:j], torch.zeros(self.vocab_size, dtype=torch.float64))
                row[seq[j]] += p
        self.table = {k: (v / v.sum()).log() for k, v in mass.items()}

    def forward(self, input_ids: torch.Tensor, **_: object) -> SimpleNamespace:
        b, t = input_ids.shape
        logits = torch.zeros(b, t, self.vocab_size, dtype=torch.float64)
        rows = input_ids.tolist()
        for i, r in enumerate(rows):
            for j in range(t):
                got = self.table.get(tuple(r[: j + 1]))
                if got is not None:
                    logits[i, j] = got
        return SimpleNamespace(logits=logits)
