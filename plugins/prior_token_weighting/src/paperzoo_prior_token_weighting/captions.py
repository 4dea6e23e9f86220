"""A synthetic image-caption task and a small captioner: an MLP image encoder whose output replaces the
embeddings of the first positions of a tinylm decoder.

An "image" is a feature vector ``[n_features]``: a fixed random projection of the one-hot codes of two
attributes (``colour`` and ``shape``, ``n_values`` each) plus Gaussian noise. Its caption is
``<img>*n_img <bos> opener body... <eos>``: the opener is drawn at random (text noise), and the opener
fixes a template whose words are predictable from the text, except two slots holding the attribute
words, which only the image determines. ``image_related`` flags those slot tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from paperzoo_tinylm.hooks import patch
from paperzoo_tinylm.model import TinyLMDecoder
from torch import nn

IMG, BOS, EOS = 0, 1, 2
COLOUR, SHAPE = -1, -2  # slot markers inside templates


@dataclass
class CaptionTask:
    """Token layout: specials 0-2, colours ``3 .. 3+V``, shapes ``3+V .. 3+2V``, then ``n_words`` text
    words. ``n_templates`` openers each own a template of ``length`` words with the two slots."""

    n_values: int = 8
    n_words: int = 24
    n_templates: int = 4
    length: int = 10
    n_features: int = 16
    n_img: int = 2
    noise: float = 0.6
    seed: int = 0

    def __post_init__(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.projection = torch.randn(2 * self.n_values, self.n_features, generator=g)
        self.templates: list[list[int]] = []
        first_word = 3 + 2 * self.n_values
        for _ in range(self.n_templates):
            body = (first_word + torch.randint(self.n_words, (self.length,), generator=g)).tolist()
            slots = torch.randperm(self.length - 1, generator=g)[:2].add(1).tolist()  # never the opener
            body[slots[0]], body[slots[1]] = COLOUR, SHAPE
            self.templates.append(body)

    @property
    def vocab_size(self) -> int:
        return 3 + 2 * self.n_values + self.n_words

    @property
    def seq_len(self) -> int:
        return self.n_img + self.length + 2

    def sample(self, n: int, seed: int) -> dict[str, torch.Tensor]:
        """``n`` examples: ``images [n, F]``, ``ids [n, T]``, ``caption`` (positions trained on as
        targets: the caption after ``<bos>``) and ``image_related`` (the attribute slots), both ``[n, T]``."""
        g = torch.Generator().manual_seed(seed)
        colour = torch.randint(self.n_values, (n,), generator=g)
        shape = torch.randint(self.n_values, (n,), generator=g)
        opener = torch.randint(self.n_templates, (n,), generator=g)
        codes = torch.zeros(n, 2 * self.n_values)
        codes[torch.arange(n), colour] = 1.0
        codes[torch.arange(n), self.n_values + shape] = 1.0
        images = codes @ self.projection + self.noise * torch.randn(n, self.n_features, generator=g)
        ids = torch.full((n, self.seq_len), IMG, dtype=torch.long)
        related = torch.zeros(n, self.seq_len, dtype=torch.bool)
        for i in range(n):
            body = list(self.templates[int(opener[i])])
            start = self.n_img + 1
            for j, tok in enumerate(body):
                if tok == COLOUR:
                    tok, related[i, start + j] = 3 + int(colour[i]), True
                elif tok == SHAPE:
                    tok, related[i, start + j] = 3 + self.n_values + int(shape[i]), True
                ids[i, start + j] = tok
            ids[i, self.n_img] = BOS
            ids[i, -1] = EOS
        caption = torch.zeros_like(related)
        caption[:, self.n_img + 1 :] = True
        return {"images": images, "ids": ids, "caption": caption, "image_related": related}


class Captioner(nn.Module):
    """An MLP image encoder and a tinylm decoder: the encoder's ``n_img`` output vectors replace the
    embeddings (hook ``embed``) of the first ``n_img`` positions; ``model(ids, images=None)`` without
    images is the decoder alone."""

    def __init__(self, vocab_size: int, n_features: int, n_img: int = 2, **decoder: object) -> None:
        super().__init__()
        self.decoder = TinyLMDecoder(vocab_size=vocab_size, **decoder)
        d = self.decoder.config.d_model
        self.n_img = n_img
        self.encoder = nn.Sequential(nn.Linear(n_features, 4 * d), nn.GELU(), nn.Linear(4 * d, n_img * d))

    def forward(self, ids: torch.Tensor, images: torch.Tensor | None = None):
        if images is None:
            return self.decoder(ids)
        tokens = self.encoder(images).unflatten(-1, (self.n_img, -1))

        def put(embed: torch.Tensor) -> torch.Tensor:
            return torch.cat([tokens.to(embed.dtype), embed[:, self.n_img :]], dim=1)

        with patch(self.decoder, "embed", put):
            return self.decoder(ids)


class WithImages(nn.Module):
    """``model`` with its images bound: ``forward(ids)`` calls ``model(ids, images=images)`` (the
    one-argument form that ``paperzoo_tinylm.training.lm_loss`` calls)."""

    def __init__(self, model: nn.Module, images: torch.Tensor) -> None:
        super().__init__()
        self.model, self.images = model, images

    def forward(self, ids: torch.Tensor):
        return self.model(ids, images=self.images)
