"""A transformer over a set of (x, y) points followed by query x's, with the prior-fitting attention mask:
every position attends to all training points and to itself only, so a query's output depends on the
training set (as a set: there is no positional encoding) and on its own x, never on other queries.
"""

from __future__ import annotations

import torch
from paperzoo.errors import ParamError
from torch import nn


def pfn_attention_mask(seq_len: int, n_train: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean ``(seq_len, seq_len)`` mask, True where row ``i`` may attend to column ``j``: ``j`` is a
    training point (``j < n_train``) or ``j == i``."""
    cols = torch.arange(seq_len, device=device)
    return (cols.unsqueeze(0) < n_train) | torch.eye(seq_len, dtype=torch.bool, device=device)


class XYTransformer(nn.Module):
    """Encodes each training point as ``enc_x(x) + enc_y(y)`` and each query as ``enc_x(x)``, runs a
    transformer encoder under :func:`pfn_attention_mask`, and returns the query positions' states.

    Input ``(batch, seq_len, n_features + 1)``: features, then ``y`` in the last column (read only for
    the first ``n_train`` points). Output ``(batch, seq_len - n_train, d_model)``, or the ``head``'s
    output when one is given.

    :param n_features: features of ``x``.
    :param n_train: training points at the front of each sequence (may be overridden per call).
    :param d_model: width; ``n_heads`` must divide it.
    :param n_layers: encoder layers.
    :param n_heads: attention heads.
    :param d_ff: feed-forward width (default ``2 * d_model``).
    :param dropout: dropout inside the encoder layers.
    :param head: a module applied to the query states.
    """

    def __init__(
        self,
        n_features: int = 1,
        n_train: int | None = None,
        d_model: int = 64,
        n_layers: int = 4,
        n_heads: int = 4,
        d_ff: int | None = None,
        dropout: float = 0.0,
        head: nn.Module | None = None,
    ):
        super().__init__()
        if n_features < 1:
            raise ParamError("n_features", f"got {n_features}; accepted: at least 1")
        if d_model < 1 or n_heads < 1 or d_model % n_heads:
            raise ParamError(
                "n_heads", f"got {n_heads} for d_model {d_model}; accepted: a divisor of d_model"
            )
        if n_train is not None and n_train < 1:
            raise ParamError("n_train", f"got {n_train}; accepted: at least 1")
        self.n_features, self.n_train = n_features, n_train
        self.enc_x = nn.Linear(n_features, d_model)
        self.enc_y = nn.Linear(1, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, d_ff or 2 * d_model, dropout, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = head

    def forward(self, inputs: torch.Tensor, n_train: int | None = None) -> torch.Tensor:
        n_train = self.n_train if n_train is None else n_train
        seq_len = inputs.shape[-2]
        if n_train is None or not 1 <= n_train < seq_len:
            raise ValueError(f"n_train must satisfy 1 <= n_train < seq_len ({seq_len}), got {n_train}")
        if inputs.shape[-1] != self.n_features + 1:
            raise ValueError(f"expected {self.n_features + 1} input columns (x, y), got {inputs.shape[-1]}")
        x, y = inputs[..., : self.n_features], inputs[..., self.n_features :]
        h = self.enc_x(x)
        h = torch.cat([h[..., :n_train, :] + self.enc_y(y[..., :n_train, :]), h[..., n_train:, :]], -2)
        mask = ~pfn_attention_mask(seq_len, n_train, inputs.device)  # True = may not attend
        out = self.encoder(h, mask=mask)[..., n_train:, :]
        return self.head(out) if self.head is not None else out
