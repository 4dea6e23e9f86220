"""Read-Process-Write (Vinyals, Bengio and Kudlur, 2016, section 4.2): a pointer network for sets.

* **Read**: each element ``x_i`` is embedded on its own by a small MLP into a memory ``m_i``;
* **Process**: the process block (``OrderMattersSet2Set``) reads the memories ``T`` times with
  content-based attention, giving the order-invariant set embedding ``q*_T``;
* **Write**: the pointer-network LSTM decoder of ``paperzoo_pointer_networks`` starts from ``q*_T``
  and points at the memories, one step at a time.

Nothing in the encoder depends on the order of the elements, so the decoder's initial state is
invariant and its pointer distributions are equivariant to a permutation of the input. Only ``encode``
differs from ``PointerNet``: the teacher-forced loss, masking, greedy and beam search are reused.
"""

from __future__ import annotations

import torch
from paperzoo_pointer_networks.model import Encoded, PointerNet
from torch import nn

from paperzoo_order_matters.set2set import OrderMattersSet2Set


class ReadProcessWrite(PointerNet):
    """A ``PointerNet`` whose encoder is read (per-element MLP) + process (``T`` attention steps).

    :param input_dim: features of one input element (1 for numbers, 2 for planar points).
    :param hidden: width of the memories, the process LSTM and the write LSTM.
    :param processing_steps: process steps ``T`` (the paper: 0, 1, 5 or 10; 0 leaves ``q*`` at zero,
        so the decoder starts from a learned constant state and sees the set only through its pointers).
    :param attn_dim: width of the pointer attention (default: ``hidden``).
    :param eos: outputs end with a stop symbol (a learned extra position ``n``).
    :param mask_chosen: positions already pointed at get probability 0 (see ``PointerNet``).
    :param init_range: uniform initialisation range of every weight (``None``: PyTorch's defaults).

    ``forward(x, targets=None)`` as ``PointerNet``: (B, T, n [+ 1]) log-probabilities.
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden: int = 128,
        processing_steps: int = 5,
        attn_dim: int | None = None,
        eos: bool = False,
        mask_chosen: bool = False,
        init_range: float | None = 0.08,
    ):
        super().__init__(input_dim, hidden, attn_dim, eos, mask_chosen, init_range)
        del self.embed, self.encoder  # replaced by read + process
        self.processing_steps = processing_steps
        self.read = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.process = OrderMattersSet2Set(hidden, processing_steps)
        self.write_init = nn.Linear(2 * hidden, 2 * hidden)  # q*_T -> the write LSTM's (h_0, c_0)
        if init_range is not None:
            for module in (self.read, self.process, self.write_init):
                for p in module.parameters():
                    nn.init.uniform_(p, -init_range, init_range)

    def encode(self, x: torch.Tensor) -> Encoded:
        """Memories ``m`` (B, n, H) = read(x); ``q*_T`` = process(m); the write LSTM starts from a linear
        map of ``q*_T`` and points at the memories (and at the stop encoding with ``eos``)."""
        memories = self.read(x)
        q_star = self.process(memories)
        h0, c0 = self.write_init(q_star).chunk(2, dim=-1)
        keys_of = memories
        if self.end is not None:
            keys_of = torch.cat([memories, self.end.expand(memories.shape[0], 1, -1)], dim=1)
        state = (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous())
        return Encoded(memories, self.attention.keys(keys_of), state)
