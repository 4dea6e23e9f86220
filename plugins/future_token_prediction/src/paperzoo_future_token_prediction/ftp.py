"""Future Token Prediction (Walker, 2024): a per-position semantic state vector ``e_t`` from a causal
trunk is expanded linearly into a pseudo-sequence of ``k`` vectors; a small tinylm decoder with
cross-attention reads it and predicts the tokens ``t+1..t+N`` with teacher forcing. All positions ``t``
are folded into the batch, so one call trains every position at once."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.attention import AttentionMask
from paperzoo_tinylm.config import TinyLMConfig
from paperzoo_tinylm.encdec import Stack
from torch import nn

IGNORE = -100


def future_windows(ids: torch.Tensor, n_future: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing inputs and targets of every position: for ``ids`` ``[B, T]`` returns
    ``decoder_ids`` ``[B, T, N]`` = ``[start, x_{t+1}, .., x_{t+N-1}]`` and ``targets`` ``[B, T, N]`` =
    ``[x_{t+1}, .., x_{t+N}]``, with ``IGNORE`` (-100) where ``t + j`` runs past the end (masked)."""
    b = ids.shape[0]
    padded = torch.cat([ids, ids.new_full((b, n_future), IGNORE)], dim=1)
    win = padded.unfold(1, n_future + 1, 1)[:, : ids.shape[1]]  # [B, T, N + 1]: x_t .. x_{t+N}
    targets = win[..., 1:]
    decoder_ids = torch.cat([torch.full_like(targets[..., :1], start), targets[..., :-1]], dim=-1)
    return decoder_ids.clamp_min(0), targets  # an ignored input only feeds ignored targets (causal)


class FTPHead(nn.Module):
    """The FTP head: ``expand`` (``d_model -> k * d_model``), then ``n_layers`` tinylm decoder blocks
    (causal self-attention, cross-attention to the pseudo-sequence, ffn), learned positions, own token
    embedding and output projection.

    :param d_model: width of the trunk's embeddings (and of the head).
    :param vocab_size: output vocabulary.
    :param n_future: N, the future tokens predicted per position.
    :param k: length of the pseudo-sequence.
    :param n_layers: decoder blocks of the head.
    :param n_heads: attention heads of the head.
    """

    def __init__(
        self,
        d_model: int = 16,
        vocab_size: int = 363,
        n_future: int = 4,
        k: int = 4,
        n_layers: int = 1,
        n_heads: int = 2,
    ) -> None:
        super().__init__()
        for name, value in (("n_future", n_future), ("k", k), ("n_layers", n_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.n_future, self.k, self.d_model = n_future, k, d_model
        cfg = TinyLMConfig(
            vocab_size=vocab_size + 1,  # one extra id: the start token
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            max_seq_len=max(n_future, 1),
            position="learned",
        )
        self.start = vocab_size
        self.expand = nn.Linear(d_model, k * d_model)
        self.tok_embed = nn.Embedding(vocab_size + 1, d_model)
        self.pos_embed = nn.Embedding(n_future, d_model)
        self.decoder = Stack(cfg, cross=True)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=cfg.init_std)

    def forward(self, e: torch.Tensor, decoder_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, T, L, V]`` of the future tokens of every position from ``e`` ``[B, T, d]``;
        ``decoder_ids`` ``[B, T, L]`` (``L <= N``) are the teacher-forced inputs (default: the start token
        only, ``L = 1``: the logits of ``t+1``)."""
        b, t, d = e.shape
        if decoder_ids is None:
            decoder_ids = torch.full((b, t, 1), self.start, dtype=torch.long, device=e.device)
        n = decoder_ids.shape[-1]
        memory = self.expand(e.reshape(b * t, d)).view(b * t, self.k, d)
        y = self.tok_embed(decoder_ids.reshape(b * t, n)) + self.pos_embed.weight[:n]
        hidden = self.decoder(
            y,
            AttentionMask(True, 0),
            None,
            memory=memory,
            memory_mask=AttentionMask(False, 0, None, cross=True),
        )
        return self.lm_head(hidden[-1]).view(b, t, n, -1)


def future_loss(head: FTPHead, e: torch.Tensor, ids: torch.Tensor, decay: float = 1.0) -> torch.Tensor:
    """The FTP loss: ``sum_j decay^(j-1) CE_j / sum_j decay^(j-1)``, where ``CE_j`` is the mean
    cross-entropy of token ``t+j`` over the positions with ``t + j < T``. With ``N = 1`` it is the
    next-token loss of the model whose output layer is ``head(e_t)`` (exactly ``lm_loss``)."""
    decoder_ids, targets = future_windows(ids, head.n_future, head.start)
    logits = head(e, decoder_ids).float()
    total = logits.new_zeros(())
    norm = 0.0
    for j in range(head.n_future):
        tgt = targets[:, :, j]
        if (tgt != IGNORE).any():
            w = decay**j
            total = total + w * F.cross_entropy(logits[:, :, j].flatten(0, 1), tgt.flatten())
            norm += w
    return total / norm


def top_embeddings(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """``e_t``: the trunk's last hidden state (after the final norm) ``[B, T, d_model]``."""
    return model(ids, output_hidden_states=True).hidden_states[-1]
