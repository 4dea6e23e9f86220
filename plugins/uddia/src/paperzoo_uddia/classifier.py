"""Fit the linear attribute classifier: does the next token belong to a designated attribute set?"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.protocol import forward

from .decoding import LinearAttributeClassifier


def attribute_labels(ids: torch.Tensor, attribute_ids: torch.Tensor) -> torch.Tensor:
    """``1`` where the *next* token is in ``attribute_ids``: ``(B, S - 1)`` float labels for ``(B, S)``."""
    return torch.isin(ids[:, 1:], attribute_ids.to(ids.device)).float()


def fit_attribute_classifier(
    model: torch.nn.Module,
    sequences: torch.Tensor,
    attribute_ids: torch.Tensor,
    steps: int = 300,
    lr: float = 0.05,
    seed: int = 0,
) -> LinearAttributeClassifier:
    """Logistic regression (full-batch Adam) from the model's final hidden state ``h_t`` to
    ``1[x_{t+1} in attribute_ids]`` over every position of ``sequences`` ``(B, S)``; the model is frozen."""
    with torch.no_grad():
        hidden = forward(model, sequences, None, False, hidden=True).hidden[:, :-1].float()
    features = hidden.reshape(-1, hidden.shape[-1])
    labels = attribute_labels(sequences, attribute_ids).reshape(-1)
    generator = torch.Generator().manual_seed(seed)
    classifier = LinearAttributeClassifier(features.shape[-1])
    with torch.no_grad():
        classifier.linear.weight.normal_(0.0, 0.01, generator=generator)
        classifier.linear.bias.zero_()
    classifier = classifier.to(features.device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.binary_cross_entropy_with_logits(classifier(features), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    for p in classifier.parameters():
        p.requires_grad_(False)
    return classifier.eval()
