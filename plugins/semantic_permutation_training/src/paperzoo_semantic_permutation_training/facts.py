"""A synthetic parent/child fact corpus for the reversal curse (Berglund et al., 2023 style).

Entities are made-up two-word names (``Kovi Talesh``), so an entity is several bytes and two words.
Every unit of a sentence carries its leading space, so any order of units is well-formed text:
``<bos> Kovi Talesh 's parent is Maro Ven<eos>`` (units: the child, `` 's parent is``, the parent).

- ``n_paired`` pairs are stated in both directions (``A 's parent is B`` and ``B 's child is A``): they
  teach how the two relations mirror each other;
- ``n_pairs`` held-out pairs are stated forward only (``A 's parent is B``); the validation split asks
  about them in reverse (``<bos> B 's child is`` -> `` A<eos>``) or forward, answer-only targets.

A causal LM trained on the forward sentences alone cannot answer the reverse questions of the held-out
pairs (the reversal curse): no training sequence ever has ``B`` before ``A``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from paperzoo.data import DataBundle
from paperzoo.errors import ParamError
from paperzoo_tinylm.tasks import to_tensors
from paperzoo_tinylm.tokenizer import BOS, EOS, VOCAB_SIZE
from torch.utils.data import TensorDataset

PARENT, CHILD = " 's parent is", " 's child is"
_ONSETS = "b d f g k l m n p r s t v z".split()
_VOWELS = "a e i o u".split()
_CODAS = ["", "", "n", "r", "l", "s", "sh", "th"]


@dataclass(frozen=True)
class FactCorpus:
    """The corpus's entity pairs ``(child, parent)`` and its sentences.

    :param held_out: pairs stated forward only (the evaluated ones).
    :param paired: pairs stated in both directions.
    """

    held_out: list[tuple[str, str]]
    paired: list[tuple[str, str]]

    def sentences(self) -> list[str]:
        """The training sentences (each unit with its leading space)."""
        out = [f" {a}{PARENT} {b}" for a, b in self.held_out + self.paired]
        return out + [f" {b}{CHILD} {a}" for a, b in self.paired]

    def questions(self, direction: str = "reverse") -> list[tuple[str, str]]:
        """``(prompt, answer)`` about the held-out pairs: reverse ``B 's child is`` -> ``A``, or forward."""
        if direction == "reverse":
            return [(f" {b}{CHILD}", f" {a}") for a, b in self.held_out]
        if direction == "forward":
            return [(f" {a}{PARENT}", f" {b}") for a, b in self.held_out]
        raise ValueError(f"direction {direction!r}; accepted: reverse, forward")

    def phrases(self) -> list[str]:
        """The semantic units: every entity and both relation phrases."""
        names = [n for pair in self.held_out + self.paired for n in pair]
        return names + [PARENT.strip(), CHILD.strip()]


def _word(rng: random.Random) -> str:
    syllables = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 2))]
    return ("".join(syllables) + rng.choice(_CODAS)).capitalize()


def fact_corpus(n_pairs: int = 30, n_paired: int = 30, seed: int = 0) -> FactCorpus:
    """Distinct random two-word names, grouped into ``n_pairs`` held-out and ``n_paired`` paired pairs."""
    rng, names = random.Random(seed), []
    seen: set[str] = set()
    while len(names) < 2 * (n_pairs + n_paired):
        name = f"{_word(rng)} {_word(rng)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    pairs = [(names[2 * i], names[2 * i + 1]) for i in range(n_pairs + n_paired)]
    return FactCorpus(held_out=pairs[:n_pairs], paired=pairs[n_pairs:])


def encode_rows(rows: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(prompt, continuation)`` rows as ``<bos> prompt continuation <eos>``, right-padded: inputs
    ``seq[:-1]`` and targets ``seq[1:]`` on the continuation and ``<eos>`` only (``IGNORE`` elsewhere)."""
    rows_out = []
    for prompt, cont in rows:
        p, c = list(prompt.encode("utf-8")), list(cont.encode("utf-8"))
        rows_out.append(([BOS, *p, *c, EOS], [False] * (1 + len(p)) + [True] * (len(c) + 1)))
    return to_tensors(rows_out)


def parent_facts(n_pairs: int = 30, n_paired: int = 30, val: str = "reverse", seed: int = 0) -> DataBundle:
    """The corpus as a ``language_modeling`` bundle: train = the sentences (every token after ``<bos>`` a
    target), val = the questions about the held-out pairs (answer-only targets). The bundle's
    ``semantic_units`` lists the phrases SPT keeps whole."""
    for name, value, low in (("n_pairs", n_pairs, 1), ("n_paired", n_paired, 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParamError(name, f"{value!r}; accepted: an integer >= {low}")
    if val not in ("reverse", "forward"):
        raise ParamError("val", f"{val!r}; accepted: reverse, forward")
    corpus = fact_corpus(n_pairs, n_paired, seed)
    x, y = encode_rows([("", s) for s in corpus.sentences()])
    vx, vy = encode_rows(corpus.questions(val))
    bundle = DataBundle(
        TensorDataset(x, y),
        TensorDataset(vx, vy),
        task="language_modeling",
        vocab_size=VOCAB_SIZE,
        input_shape=(x.shape[1],),
        name="spt_parent_facts",
    )
    bundle.semantic_units = corpus.phrases()
    return bundle
