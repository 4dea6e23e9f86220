"""Hand-written causal LMs with known behaviour, for the exact tests."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

VOCAB = 128
SEP = ord(",")
EOS_MOCK = 3
MEMBERS = [ord(c) for c in "dbeca"]  # preference order: d first
QUESTION = torch.tensor([1, ord("S"), ord("0"), ord("=")])


class ListLM(nn.Module):
    """Continues a list of ``MEMBERS``: after a member comes ``SEP``; otherwise the most preferred member
    (``obey=True``: not yet in the sequence; ``obey=False``: whatever is listed). Logits rank the
    candidates by preference (listed members last when obeying), so ``argsort`` is meaningful. The cache
    is the ids seen so far as a ``(B, 1, T, 1)`` tensor; ``calls`` counts forward passes."""

    def __init__(self, obey: bool = True):
        super().__init__()
        self.obey, self.calls = obey, 0

    def scores(self, prefix: list[int]) -> torch.Tensor:
        z = torch.full((VOCAB,), -10.0, dtype=torch.float64)
        if prefix and prefix[-1] in MEMBERS:
            z[SEP] = 10.0
            return z
        for rank, m in enumerate(MEMBERS):
            listed = self.obey and m in prefix
            z[m] = (-5.0 if listed else 5.0) - 0.5 * rank
        return z

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False, **_):
        self.calls += 1
        ids = input_ids[:, None, :, None].double()
        if past_key_values is not None:
            ids = torch.cat([past_key_values[0], ids], dim=2)
        full = ids[:, 0, :, 0].long()
        start = full.shape[1] - input_ids.shape[1]
        logits = torch.stack(
            [
                torch.stack([self.scores(full[b, : t + 1].tolist()) for t in range(start, full.shape[1])])
                for b in range(full.shape[0])
            ]
        )
        return SimpleNamespace(logits=logits, past_key_values=(ids,) if use_cache else None)
