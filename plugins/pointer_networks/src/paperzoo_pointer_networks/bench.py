"""Ptr-Net against a seq2seq attention decoder with a fixed output vocabulary, and Held-Karp against
brute force.

1. One teacher-forced training pass (forward+backward over n decoding steps) and one greedy decoding
   step, Ptr-Net against a content-based attention decoder of the same width (LSTM encoder/decoder,
   additive attention, context vector, then a softmax over a fixed vocabulary of ``n`` outputs: the
   paper's "LSTM + attention" baseline). Ptr-Net drops the context vector and the output projection:
   its attention scores are the output.
2. Exact TSP: the vectorised Held-Karp dynamic programme against trying all (n-1)! tours.

Time: median of ``--rounds`` interleaved rounds; memory: ``peak_memory`` of one call; both printed as
ratios to the baseline.

Run: ``registry bench pointer_networks [--threads 2] [--rounds 20]``.
"""

from __future__ import annotations

from functools import partial

import torch
from paperzoo.bench import bench_arguments, bench_setup, compare, compare_header
from torch import nn

from paperzoo_pointer_networks.attention import PointerAttention
from paperzoo_pointer_networks.geometry import brute_force_tsp, held_karp
from paperzoo_pointer_networks.model import PointerNet, pointer_loss

SIZES = [(128, 10, 128), (64, 50, 256)]  # (batch, n, hidden)


class VocabAttentionDecoder(nn.Module):
    """Seq2seq with content-based attention and a softmax over a fixed output vocabulary of ``vocab``."""

    def __init__(self, input_dim: int, hidden: int, vocab: int):
        super().__init__()
        self.embed = nn.Linear(input_dim, hidden)
        self.encoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.tokens = nn.Embedding(vocab + 1, hidden)  # outputs fed back, plus a start token
        self.attention = PointerAttention(hidden)
        self.out = nn.Linear(2 * hidden, vocab)

    def encode(self, x: torch.Tensor):
        enc, state = self.encoder(self.embed(x))
        return enc, self.attention.keys(enc), state

    def logits(self, enc, keys, dec_out):
        weights = self.attention.log_probs(keys, dec_out).exp()
        ctx = weights @ enc if weights.dim() == 3 else (weights.unsqueeze(1) @ enc).squeeze(1)
        return self.out(torch.cat([dec_out, ctx], -1))

    def forward(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        enc, keys, state = self.encode(x)
        start = torch.full_like(targets[:, :1], self.tokens.num_embeddings - 1)
        out, _ = self.decoder(self.tokens(torch.cat([start, targets[:, :-1]], 1)), state)
        return torch.log_softmax(self.logits(enc, keys, out), -1)


def train_pass(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    pointer_loss(model(x, targets=y) if isinstance(model, PointerNet) else model(x, y), y).backward()
    model.zero_grad(set_to_none=True)


@torch.no_grad()
def ptr_step(model: PointerNet, encoded, prev: torch.Tensor) -> None:
    model.step(encoded, prev, encoded.state, None)


@torch.no_grad()
def vocab_step(model: VocabAttentionDecoder, encoded, prev: torch.Tensor) -> None:
    enc, keys, state = encoded
    out, _ = model.decoder(model.tokens(prev).unsqueeze(1), state)
    torch.log_softmax(model.logits(enc, keys, out[:, 0]), -1)


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line) and print times, peak memory and ratios."""
    args = bench_arguments(__doc__.splitlines()[0], rounds=20).parse_args(argv)
    device = bench_setup(args, f"median of {args.rounds} interleaved rounds; ratios are ours / baseline")
    print(compare_header(f"{'(B, n, H)':>16} {'work':>6}", "model", (23, 12)))
    for b, n, h in SIZES:
        x = torch.rand(b, n, 2, device=device)
        y = torch.rand(b, n, device=device).argsort(1)
        ptr = PointerNet(input_dim=2, hidden=h).to(device)
        vocab = VocabAttentionDecoder(2, h, n).to(device)
        label = f"{str((b, n, h)):>16} {'train':>6}"
        works = {"vocab_attn": partial(train_pass, vocab, x, y), "ptr_net": partial(train_pass, ptr, x, y)}
        compare(works, "vocab_attn", device, args.rounds, label=label, widths=(23, 12))
        with torch.no_grad():
            enc_p, enc_v = ptr.encode(x), vocab.encode(x)
        works = {
            "vocab_attn": partial(vocab_step, vocab, enc_v, y[:, 0]),
            "ptr_net": partial(ptr_step, ptr, enc_p, y[:, 0]),
        }
        compare(
            works,
            "vocab_attn",
            device,
            args.rounds,
            label=f"{str((b, n, h)):>16} {'step':>6}",
            widths=(23, 12),
        )
    print(compare_header(f"{'(B, n)':>16} {'exact':>6}", "solver", (23, 12)))
    for b, n in ((64, 7), (64, 8)):
        pts = torch.rand(b, n, 2, dtype=torch.float64, device=device)
        works = {"brute_force": partial(brute_force_tsp, pts), "held_karp": partial(held_karp, pts)}
        compare(
            works,
            "brute_force",
            device,
            max(3, args.rounds // 4),
            label=f"{str((b, n)):>16} {'tsp':>6}",
            widths=(23, 12),
        )


if __name__ == "__main__":
    main()
