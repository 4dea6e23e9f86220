"""A tokenizer seen through bytes: what the byte-level algorithms need from it.

``TokenBytes`` holds each token id's bytes (``b""`` for special tokens), the canonical ``encode`` of a
byte string, and the ids of ``<bos>``/``<eos>``/``<pad>``. ``train_bpe`` trains a small BPE with the
``tokenizers`` package on byte strings whose bytes are ASCII (no pre-tokenizer, no normaliser: a token
may hold any run of bytes), so each token's string is its bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

SPECIALS = ("<bos>", "<eos>", "<pad>")


class TokenBytes:
    """Token ids as byte strings, with the canonical encoding of byte strings.

    :param token_bytes: the bytes of each token id (``b""`` for special tokens).
    :param encode: the canonical (tokenizer's) encoding of a byte string, without special tokens.
    :param bos_id: the id every context starts with.
    :param eos_id: the id that ends a text (``None``: texts never end).
    :param pad_id: the id padding uses (default ``bos_id``).
    """

    def __init__(
        self,
        token_bytes: Sequence[bytes],
        encode: Callable[[bytes], list[int]],
        bos_id: int,
        eos_id: int | None = None,
        pad_id: int | None = None,
    ) -> None:
        self.token_bytes = [bytes(b) for b in token_bytes]
        self._encode = encode
        self.bos_id, self.eos_id = bos_id, eos_id
        self.pad_id = bos_id if pad_id is None else pad_id
        self.encode = lru_cache(maxsize=65536)(self._encode_tuple)
        #: every non-empty prefix of every token -> the ids of the tokens that start with it
        self.by_prefix: dict[bytes, list[int]] = {}
        for t, b in enumerate(self.token_bytes):
            for k in range(1, len(b) + 1):
                self.by_prefix.setdefault(b[:k], []).append(t)
        self.byte_tokens = [t for t, b in enumerate(self.token_bytes) if b]

    def __len__(self) -> int:
        return len(self.token_bytes)

    def _encode_tuple(self, data: bytes) -> tuple[int, ...]:
        return tuple(self._encode(bytes(data)))

    def decode(self, ids: Sequence[int]) -> bytes:
        """The bytes of ``ids`` (special tokens add none)."""
        return b"".join(self.token_bytes[t] for t in ids)

    def starting_with(self, prefix: bytes) -> list[int]:
        """Ids of the tokens whose bytes start with ``prefix`` (``b""``: every non-special token)."""
        return self.byte_tokens if not prefix else self.by_prefix.get(prefix, [])

    def is_valid(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` is the canonical encoding of its bytes (for BPE: whether the tokenizer can
        produce it as the start of some text's encoding)."""
        return self.encode(self.decode(ids)) == tuple(ids)


def train_bpe(texts: Sequence[bytes], vocab_size: int) -> TokenBytes:
    """A BPE tokenizer trained with ``tokenizers`` on ASCII ``texts``: ``vocab_size`` tokens in all
    (the three specials ``<bos>``, ``<eos>``, ``<pad>`` first, then the bytes seen, then merges)."""
    from tokenizers import Tokenizer, models, trainers

    alphabet = sorted({chr(c) for t in texts for c in t})
    if any(ord(c) > 127 for c in alphabet):
        raise ValueError("texts: accepted: ASCII bytes only (token strings are their bytes)")
    tok = Tokenizer(models.BPE())
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIALS), initial_alphabet=alphabet, show_progress=False
    )
    tok.train_from_iterator([t.decode("ascii") for t in texts], trainer=trainer)
    vocab = tok.get_vocab()
    token_bytes = [b""] * len(vocab)
    for s, i in vocab.items():
        token_bytes[i] = b"" if s in SPECIALS else s.encode("ascii")

    def encode(data: bytes) -> list[int]:
        return tok.encode(data.decode("ascii"), add_special_tokens=False).ids

    return TokenBytes(
        token_bytes, encode, bos_id=vocab["<bos>"], eos_id=vocab["<eos>"], pad_id=vocab["<pad>"]
    )
