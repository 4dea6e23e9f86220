"""Shared test pieces: an oracle model that knows the answers of given sequences."""

import torch

from paperzoo_mlm_u import mazes


class Oracle(torch.nn.Module):
    """Logits one-hot on ``answers[row]`` for the row whose first ``start`` tokens match the input.

    ``causal``: the logits at position ``t`` predict token ``t + 1`` (a decoder); otherwise token ``t``
    (an encoder). Holds one parameter so that evaluators can find its device.
    """

    def __init__(self, seq: torch.Tensor, answers: torch.Tensor, causal: bool):
        super().__init__()
        self.seq, self.answers, self.causal = seq, answers, causal
        self.start = mazes.prefix_length_of(seq)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids, attention_mask=None):
        rows = [int((self.seq[:, : self.start] == r[: self.start]).all(1).nonzero()[0, 0]) for r in ids]
        target = self.answers[rows]
        if self.causal:
            target = target[:, 1:]
            target = torch.cat([target, target[:, -1:]], 1)[:, : ids.shape[1]]
        vocab = int(self.seq.max()) + 2
        return torch.nn.functional.one_hot(target, vocab).float() * 10
