"""A tiny two-tower vision-language model for tests and the claim: a vision MLP maps an 8x8 digits image
(scikit-learn's ``load_digits``) to ``n_prefix`` prefix tokens in a tinylm decoder's embedding space; the
decoder then reads the digit's English name byte by byte ("seven"). The prefix replaces the embeddings of
``n_prefix`` placeholder tokens at the decoder's ``embed`` hook point."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMDecoder
from paperzoo_tinylm.tokenizer import encode
from torch import nn

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NAME_LEN = 6  # longest name + 1 (padding byte 0 after the name)


class TinyVLM(nn.Module):
    """Vision MLP ``64 -> hidden -> n_prefix * d_model`` feeding a tinylm decoder as prefix tokens."""

    def __init__(self, d_model: int = 32, n_layers: int = 2, n_prefix: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.n_prefix, self.d_model = n_prefix, d_model
        self.vision = nn.Sequential(nn.Linear(64, hidden), nn.GELU(), nn.Linear(hidden, n_prefix * d_model))
        seq = n_prefix + NAME_LEN
        self.decoder = TinyLMDecoder(d_model=d_model, n_layers=n_layers, n_heads=2, max_seq_len=seq)
        self._prefix: torch.Tensor | None = None
        self.decoder.embed.register_forward_hook(self._inject)

    def _inject(self, _m: nn.Module, _a: tuple, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self._prefix, x[:, self.n_prefix :]], 1)

    def forward(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_prefix + NAME_LEN, vocab]`` for ``images`` ``[B, 64]`` and ``ids``."""
        self._prefix = self.vision(images).view(-1, self.n_prefix, self.d_model)
        try:
            return self.decoder(ids).logits
        finally:
            self._prefix = None


def digits_batch(n_prefix: int = 2, n: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images [N, 64] scaled to [0, 1], ids [N, n_prefix + NAME_LEN])``, shuffled by ``seed``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = torch.randperm(len(data.target), generator=torch.Generator().manual_seed(seed))[:n]
    images = torch.tensor(data.data, dtype=torch.float32)[order] / 16.0
    names = [encode(NAMES[int(t)]) for t in data.target[order]]
    ids = torch.zeros(len(names), n_prefix + NAME_LEN, dtype=torch.long)
    for i, name in enumerate(names):
        ids[i, n_prefix : n_prefix + len(name)] = torch.tensor(name)
    return images, ids


def name_loss(model: TinyVLM, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the name bytes (and the padding byte after them) given the image prefix."""
    logits = model(images, ids)[:, model.n_prefix - 1 : -1]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, model.n_prefix :].reshape(-1))


def train_tiny_vlm(seed: int = 0, steps: int = 150, batch: int = 64, **kw: int) -> TinyVLM:
    """A :class:`TinyVLM` trained briefly with AdamW on the digits (the first 1200 images)."""
    torch.manual_seed(seed)
    model = TinyVLM(**kw)
    images, ids = digits_batch(model.n_prefix, 1200, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(images), (batch,), generator=g)
        loss = name_loss(model, images[idx], ids[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def vlm_linears(model: TinyVLM) -> dict[str, nn.Linear]:
    """The Linears Q-VLM quantises: the vision MLP and every decoder block Linear (the embedding and the
    head stay in float, as in the paper's LLaVA setting)."""
    return {
        n: m
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and (n.startswith("vision.") or n.startswith("decoder.blocks."))
    }
