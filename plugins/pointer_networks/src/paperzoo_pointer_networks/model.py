"""Ptr-Net: an LSTM encoder, an LSTM decoder and the pointer attention (Vinyals et al., 2015).

The decoder's input at step ``i`` is the (embedded) input element pointed at in step ``i - 1`` (the
target's element under teacher forcing); its first input is a learned start vector (the paper's "=>").
Outputs that end with a stop symbol (convex hull) point at one extra learned encoding appended after
the ``n`` input encodings (position ``n``, the paper's "<=").

A subclass that changes only the encoder (e.g. an order-invariant set encoder) overrides ``encode``
and reuses the decoder, the loss and the searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from paperzoo_pointer_networks.attention import PointerAttention

IGNORE = -100  # target padding after the stop symbol (ignored by the loss)


@dataclass
class Encoded:
    """What the decoder needs from the encoder, for a batch of B inputs of n elements.

    :param inputs: the embedded input elements (B, n, H), fed back to the decoder when pointed at.
    :param keys: ``W1 e_j`` of every pointable position (B, n or n + 1, A).
    :param state: the decoder's initial LSTM state ``(h, c)``, each (1, B, H).
    """

    inputs: torch.Tensor
    keys: torch.Tensor
    state: tuple[torch.Tensor, torch.Tensor]

    def index(self, rows: torch.Tensor) -> Encoded:
        """The rows ``rows`` of the batch (beam search's expansion and reordering)."""
        h, c = self.state
        return Encoded(self.inputs[rows], self.keys[rows], (h[:, rows], c[:, rows]))


class PointerNet(nn.Module):
    """A pointer network: outputs are sequences of positions of its variable-length input.

    :param input_dim: features of one input element (1 for numbers, 2 for planar points).
    :param hidden: LSTM width (the paper: 256 or 512).
    :param attn_dim: width of the pointer attention (default: ``hidden``).
    :param eos: whether outputs end with a stop symbol (a learned position ``n`` one can point at).
    :param mask_chosen: exclude positions already pointed at (probability 0), in training and search.
        The paper did not (its softmax covers every position; its beam search kept valid outputs
        only): ``False`` is the paper's model, ``True`` the constrained variant.
    :param init_range: uniform initialisation range of every weight (the paper: 0.08); ``None``
        keeps PyTorch's defaults.

    ``forward(x, targets=None)``: ``x`` (B, n, input_dim); with ``targets`` (B, T) of positions
    (teacher forcing) the log-probabilities (B, T, n [+ 1]) of every step; without, those of greedy
    decoding (T = n, or n + 1 with ``eos``).
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden: int = 128,
        attn_dim: int | None = None,
        eos: bool = False,
        mask_chosen: bool = False,
        init_range: float | None = 0.08,
    ):
        super().__init__()
        self.input_dim, self.hidden, self.eos, self.mask_chosen = input_dim, hidden, eos, mask_chosen
        self.embed = nn.Linear(input_dim, hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.attention = PointerAttention(hidden, attn_dim)
        self.start = nn.Parameter(torch.zeros(hidden))
        self.end = nn.Parameter(torch.zeros(hidden)) if eos else None
        if init_range is not None:
            for p in self.parameters():
                nn.init.uniform_(p, -init_range, init_range)

    # -- encoder -------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> Encoded:
        """Embed and encode ``x`` (B, n, input_dim); the decoder starts from the encoder's last state."""
        inputs = self.embed(x)
        enc, state = self.encoder(inputs)
        if self.end is not None:
            enc = torch.cat([enc, self.end.expand(enc.shape[0], 1, -1)], dim=1)
        return Encoded(inputs, self.attention.keys(enc), state)

    # -- decoder -------------------------------------------------------------------------------
    def positions(self, n: int) -> int:
        """Pointable positions for an input of ``n`` elements."""
        return n + 1 if self.eos else n

    def steps(self, n: int) -> int:
        """Decoding steps for an input of ``n`` elements (a permutation, or a subset and the stop)."""
        return n + 1 if self.eos else n

    def decoder_inputs(self, encoded: Encoded, pointed: torch.Tensor | None) -> torch.Tensor:
        """The decoder's inputs (B, T, H) after the positions ``pointed`` (B, T - 1): the start vector,
        then the embedded elements pointed at (the stop and padding feed the last element; their
        outputs are never used)."""
        b, n, h = encoded.inputs.shape
        first = self.start.expand(b, 1, h)
        if pointed is None or pointed.shape[1] == 0:
            return first
        idx = pointed.clamp(0, n - 1)
        fed = torch.gather(encoded.inputs, 1, idx.unsqueeze(-1).expand(-1, -1, h))
        return torch.cat([first, fed], dim=1)

    def chosen_mask(self, pointed: torch.Tensor, n_pos: int) -> torch.Tensor:
        """(B, T, n_pos) bool: position j is masked at step t when it was pointed at before step t
        (the stop position never is)."""
        valid = (pointed >= 0) & (pointed < n_pos - (1 if self.eos else 0))
        hot = torch.zeros(*pointed.shape, n_pos, dtype=torch.bool, device=pointed.device)
        hot.scatter_(-1, pointed.clamp(0, n_pos - 1).unsqueeze(-1), valid.unsqueeze(-1))
        before = torch.cumsum(hot.long(), dim=1) - hot.long()  # exclusive: chosen at an earlier step
        return before > 0

    def step(
        self,
        encoded: Encoded,
        prev: torch.Tensor | None,
        state: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One decoding step: log-probabilities (B, n_pos) after pointing at ``prev`` (B,) (``None`` at
        the first step), and the new decoder state."""
        inp = self.decoder_inputs(encoded, None if prev is None else prev.unsqueeze(1))[:, -1:]
        out, state = self.decoder(inp, state)
        return self.attention.log_probs(encoded.keys, out[:, 0], mask), state

    def teacher_forced(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T, n_pos) of every step, the decoder fed the targets."""
        encoded = self.encode(x)
        inp = self.decoder_inputs(encoded, targets[:, :-1])
        out, _ = self.decoder(inp, encoded.state)
        mask = self.chosen_mask(targets, encoded.keys.shape[1]) if self.mask_chosen else None
        return self.attention.log_probs(encoded.keys, out, mask)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        if targets is not None:
            return self.teacher_forced(x, targets)
        return greedy(self, x, return_log_probs=True)[1]

    @torch.no_grad()
    def decode(self, x: torch.Tensor, beam_size: int = 1, constrain: bool | None = None) -> torch.Tensor:
        """Decoded position sequences (B, T): greedy for ``beam_size`` 1, else beam search. With
        ``eos``, entries after the stop position ``n`` are ``IGNORE`` (the targets' format).
        ``constrain`` (default ``mask_chosen``): never point at a position twice."""
        from paperzoo_pointer_networks.search import beam_search

        if beam_size == 1:
            return greedy(self, x, constrain=constrain)[0]
        return beam_search(self, x, beam_size, constrain=constrain)[0]


def greedy(
    model: PointerNet, x: torch.Tensor, constrain: bool | None = None, return_log_probs: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Greedy decoding: each step points at the arg-max position and feeds it to the next step.
    Returns the sequences (B, T) (``IGNORE`` after a stop) and, if asked, the log-probabilities
    (B, T, n_pos) of every step."""
    constrain = model.mask_chosen if constrain is None else constrain
    encoded = model.encode(x)
    b, n = x.shape[:2]
    n_pos, stop = encoded.keys.shape[1], n if model.eos else -1
    chosen = torch.zeros(b, n_pos, dtype=torch.bool, device=x.device)
    done = torch.zeros(b, dtype=torch.bool, device=x.device)
    state, prev, seqs, logps = encoded.state, None, [], []
    for _ in range(model.steps(n)):
        logp, state = model.step(encoded, prev, state, chosen if constrain else None)
        prev = logp.argmax(-1)
        seqs.append(torch.where(done, torch.full_like(prev, IGNORE), prev))
        if return_log_probs:
            logps.append(logp)
        done = done | (prev == stop)
        if model.eos:
            chosen = chosen.scatter(1, prev.unsqueeze(1), prev.unsqueeze(1) != stop)
        else:
            chosen = chosen.scatter(1, prev.unsqueeze(1), True)
    return torch.stack(seqs, 1), torch.stack(logps, 1) if return_log_probs else None


def sequence_log_prob(model: PointerNet, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``log p(targets | x)`` (B,): the sum of the teacher-forced log-probabilities of the targets
    (``IGNORE`` entries skipped)."""
    logp = model.teacher_forced(x, targets)
    keep = targets != IGNORE
    picked = torch.gather(logp, -1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(keep, picked, torch.zeros_like(picked)).sum(1)


def pointer_loss(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the target positions over all non-``IGNORE`` steps."""
    return torch.nn.functional.nll_loss(log_probs.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
