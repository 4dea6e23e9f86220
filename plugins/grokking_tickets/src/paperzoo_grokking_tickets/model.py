"""The paper's MLP for ``a + b mod p`` and its data split (Minegishi et al., 2023, Section 3).

The official ``OnlyMLP`` with no hidden layer: embed both operands (``W_E``, ``d_emb x p``), project
each to ``d_model`` (``W_in``), sum the two positions, ReLU, project back to ``d_emb`` (``W_out``) and
unembed (``W_U``) to ``p`` logits. No biases, no normalisation. Every weight is drawn from
``N(0, 1 / fan_in)`` (``fan_in`` = ``p`` for the embedding), as in the official code.
"""

from __future__ import annotations

import math
import random

import torch
from paperzoo.errors import ParamError
from torch import nn
from torch.utils.data import TensorDataset


class GrokkingMLP(nn.Module):
    """``logits = W_U relu(W_in e_a + W_in e_b)``-style MLP on two tokens (see the module docstring).

    :param modulus: ``p``, the vocabulary and the number of classes.
    :param d_emb: embedding width (paper: 500).
    :param d_model: hidden width (paper: 48).
    """

    def __init__(self, modulus: int = 67, d_emb: int = 500, d_model: int = 48):
        super().__init__()
        for name, value in (("modulus", modulus), ("d_emb", d_emb), ("d_model", d_model)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParamError(name, f"got {value!r}; accepted: a positive integer")
        self.embed = nn.Embedding(modulus, d_emb)
        self.inproj = nn.Linear(d_emb, d_model, bias=False)
        self.outproj = nn.Linear(d_model, d_emb, bias=False)
        self.unembed = nn.Linear(d_emb, modulus, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``N(0, 1/fan_in)`` for every matrix, as the official ``Embed`` / ``MLP`` / ``Unembed``."""
        with torch.no_grad():
            self.embed.weight.normal_(0.0, 1.0 / math.sqrt(self.embed.num_embeddings))
            for layer in (self.inproj, self.outproj, self.unembed):
                layer.weight.normal_(0.0, 1.0 / math.sqrt(layer.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, 2)`` operand ids; returns ``(batch, p)`` logits."""
        h = torch.relu(self.inproj(self.embed(x)).sum(dim=1))
        return self.unembed(self.outproj(h))


def split_pairs(modulus: int, train_fraction: float, seed: int, symmetric: bool) -> tuple[list, list]:
    """The official split: all pairs ``(a, b)`` (``a <= b`` when ``symmetric``), shuffled by
    ``random.seed(seed)``, first ``int(train_fraction * n)`` for training."""
    pairs = [(a, b) for a in range(modulus) for b in range(modulus) if not symmetric or a <= b]
    random.Random(seed).shuffle(pairs)
    cut = int(train_fraction * len(pairs))
    return pairs[:cut], pairs[cut:]


def modular_addition(modulus: int = 67, train_fraction: float = 0.4, symmetric: bool = True, seed: int = 0):
    """``(a, b) -> (a + b) mod p`` as a classification ``DataBundle``: inputs ``(2,)`` long, ``p``
    classes; ``val`` holds every pair not in ``train`` (the test set of grokking papers)."""
    from paperzoo.data import DataBundle

    if not isinstance(modulus, int) or isinstance(modulus, bool) or not 2 <= modulus <= 1000:
        raise ParamError("modulus", f"got {modulus!r}; accepted: an integer from 2 to 1000")
    if not 0.0 < train_fraction < 1.0:
        raise ParamError("train_fraction", f"got {train_fraction!r}; accepted: a fraction in (0, 1)")
    train, test = split_pairs(modulus, train_fraction, seed, symmetric)
    if not train or not test:
        raise ParamError("train_fraction", f"{train_fraction} leaves a split empty for modulus {modulus}")

    def tensors(pairs: list) -> TensorDataset:
        x = torch.tensor(pairs, dtype=torch.long)
        return TensorDataset(x, (x[:, 0] + x[:, 1]) % modulus)

    return DataBundle(
        tensors(train),
        tensors(test),
        task="classification",
        num_classes=modulus,
        input_shape=(2,),
        name="grokking_modular_addition",
    )
