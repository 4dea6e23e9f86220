"""ELECTRA's generator and discriminator (``electra_generator_discriminator``), both tinylm encoders.

The discriminator is a BERT-style encoder (LayerNorm ``post``, learned positions, ``gelu`` MLP, biases,
an embedding LayerNorm) whose head labels every token original (0) or replaced (1). The generator is a
narrower encoder of the same depth (``generator_size`` times the width, heads and ffn) that reads the
discriminator's token embeddings, through a projection when the widths differ, and predicts masked
tokens with an MLM head tied to those embeddings (as the official implementation).

One pre-training forward (:meth:`ElectraGeneratorDiscriminator.forward`):

1. choose 15% of the ordinary tokens (``paperzoo_tinylm.transforms.MLMTransform``; 85% of them become
   ``MASK``, 15% keep their token, as the official ``mask`` helper);
2. the generator predicts them; ``L_MLM`` is its cross-entropy averaged over the chosen positions;
3. each chosen position is filled with a token sampled from the generator's softmax (Gumbel-max, no
   gradient through the sample);
4. the discriminator labels every token: replaced iff chosen and the sample differs from the original
   (a sample equal to the original counts as original); ``L_disc`` is the sigmoid cross-entropy averaged
   over non-padding tokens;
5. ``loss = mlm_weight * L_MLM + disc_weight * L_disc`` (1 and 50).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from paperzoo_tinylm.model import TinyLMEncoder
from paperzoo_tinylm.tokenizer import PAD
from paperzoo_tinylm.transforms import MLMTransform
from torch import nn

# The BERT/ELECTRA form of a tinylm encoder (transformers' ElectraModel: layer_norm_eps 1e-12).
ELECTRA_FORM: dict[str, Any] = {
    "norm": "layer_norm",
    "norm_eps": 1e-12,
    "norm_placement": "post",
    "embed_norm": True,
    "position": "learned",
    "ffn": "mlp",
    "activation": "gelu",
    "bias": True,
}


class ElectraOutput(NamedTuple):
    """The pre-training forward's results; ``loss`` first (a model's primary output)."""

    loss: torch.Tensor
    mlm_loss: torch.Tensor
    disc_loss: torch.Tensor
    disc_logits: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T] long: 1 replaced, 0 original
    corrupted: torch.Tensor  # [B, T]: the discriminator's input
    mlm_logits: torch.Tensor  # [B, T, V]: the generator's


def replaced_labels(original: torch.Tensor, corrupted: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """1 where a chosen position holds a token other than the original, else 0 (long ``[B, T]``)."""
    return (chosen & (corrupted != original)).long()


def gumbel_sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token per row of ``logits`` ``[..., V]`` from its softmax, by the Gumbel-max trick (the
    official ``sample_from_softmax``); no gradient."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=torch.float32)
    gumbel = -torch.log(-torch.log(u + 1e-9) + 1e-9)
    return (logits.detach().float() + gumbel).argmax(-1)


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


def discriminator_loss(
    logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor:
    """Sigmoid cross-entropy averaged over non-padding tokens (``attention_mask`` 1)."""
    logits = _at_least_float32(logits)
    losses = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    if attention_mask is None:
        return losses.mean()
    w = attention_mask.to(logits.dtype)
    return (losses * w).sum() / w.sum().clamp_min(1e-6)


class DiscriminatorHead(nn.Module):
    """``dense(d, d) -> gelu -> dense(d, 1)``: one replaced-token logit per position."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_model, d_model)
        self.prediction = nn.Linear(d_model, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.prediction(F.gelu(self.dense(hidden))).squeeze(-1)


class GeneratorHead(nn.Module):
    """``dense(d_gen, d_emb) -> gelu -> LayerNorm``, then logits against the shared embedding table plus a
    bias (the official ``get_token_logits``; transformers' ``ElectraGeneratorPredictions``)."""

    def __init__(self, d_model: int, embedding: nn.Embedding, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_model, embedding.embedding_dim)
        self.norm = nn.LayerNorm(embedding.embedding_dim, eps=eps)
        self.embedding = embedding
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(F.gelu(self.dense(hidden))), self.embedding.weight, self.bias)


class ElectraGeneratorDiscriminator(nn.Module):
    """A generator and a discriminator sharing token embeddings, trained by replaced-token detection.

    :param generator_size: the generator's width, heads and ffn as a share of the discriminator's (the
        paper: 1/4 to 1/2 works best).
    :param mask_rate: share of ordinary tokens the generator fills (0.15).
    :param disc_weight, mlm_weight: ``loss = mlm_weight * L_MLM + disc_weight * L_disc`` (50, 1).
    :param temperature: the generator's sampling temperature (1).
    :param model: the discriminator's tinylm encoder fields (``d_model``, ``n_layers``, ...); the ELECTRA
        form (:data:`ELECTRA_FORM`) is the default for the slots not given.
    """

    def __init__(
        self,
        generator_size: float = 0.25,
        mask_rate: float = 0.15,
        disc_weight: float = 50.0,
        mlm_weight: float = 1.0,
        temperature: float = 1.0,
        **model: Any,
    ) -> None:
        super().__init__()
        if not 0.0 < generator_size <= 1.0:
            raise ValueError(f"generator_size={generator_size!r}; accepted: a number in (0, 1]")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature!r}; accepted: a positive number")
        fields = {**ELECTRA_FORM, **model}
        self.discriminator = TinyLMEncoder(**fields)
        cfg = self.discriminator.config
        self.discriminator.lm_head = nn.Identity()  # the encoder returns its last hidden state
        self.disc_head = DiscriminatorHead(cfg.d_model)
        d_gen = max(1, round(cfg.d_model * generator_size))
        heads = max(1, round(cfg.n_heads * generator_size))
        gen_fields = {
            **fields,
            "d_model": d_gen,
            "n_heads": heads,
            "n_kv_heads": None,
            "head_dim": None,
            "d_ff": max(1, round(cfg.ffn_dim * generator_size)),
        }
        self.generator = TinyLMEncoder(**gen_fields)
        shared = self.discriminator.tok_embed
        if d_gen == cfg.d_model:
            self.generator.tok_embed = shared
        else:  # the paper's embedding projection: shared embeddings at the discriminator's width
            self.generator.tok_embed = nn.Sequential(shared, nn.Linear(cfg.d_model, d_gen))
        self.generator.lm_head = GeneratorHead(d_gen, shared, cfg.norm_eps)
        self.transform = MLMTransform(rate=mask_rate, mask_fraction=0.85, random_fraction=0.0)
        self.generator_size, self.temperature = generator_size, temperature
        self.disc_weight, self.mlm_weight = disc_weight, mlm_weight

    def discriminate(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Replaced-token logits ``[B, T]`` of the discriminator."""
        hidden = self.discriminator(input_ids, attention_mask=attention_mask).logits
        return self.disc_head(hidden)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's last hidden state ``[B, T, d]`` (the downstream encoder)."""
        return self.discriminator(input_ids, attention_mask=attention_mask).logits

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> ElectraOutput:
        """The pre-training forward on ``input_ids`` ``[B, T]``. ``attention_mask`` defaults to
        ``input_ids != PAD``; ``generator`` drives the masking and sampling (``None``: a generator seeded
        0 on the ids' device, so a call is reproducible; a trainer passes its own)."""
        if attention_mask is None:
            attention_mask = (input_ids != PAD).long()
        if generator is None:
            generator = torch.Generator(device=input_ids.device).manual_seed(0)
        masked = self.transform(input_ids, generator)
        mlm_logits = self.generator(masked.inputs, attention_mask=attention_mask).logits
        chosen = masked.loss_mask
        if chosen.any():
            mlm_loss = F.cross_entropy(_at_least_float32(mlm_logits.flatten(0, 1)), masked.targets.flatten())
        else:
            mlm_loss = mlm_logits.sum() * 0.0
        sampled = gumbel_sample(mlm_logits / self.temperature, generator)
        corrupted = torch.where(chosen, sampled, input_ids)
        labels = replaced_labels(input_ids, corrupted, chosen)
        disc_logits = self.discriminate(corrupted, attention_mask)
        disc_loss = discriminator_loss(disc_logits, labels, attention_mask)
        loss = self.mlm_weight * mlm_loss + self.disc_weight * disc_loss
        return ElectraOutput(loss, mlm_loss, disc_loss, disc_logits, labels, corrupted, mlm_logits)
