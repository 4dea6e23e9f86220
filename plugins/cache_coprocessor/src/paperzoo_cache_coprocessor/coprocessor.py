"""Differentiable cache augmentation (``kv_cache_coprocessor``): a frozen tinylm decoder, a trainable
coprocessor initialised from it, and ``N`` learned soft tokens.

The decoder reads a prefix and leaves its key/value cache. The coprocessor takes that cache as its own
``past_key_values`` and the soft tokens as its input embeddings, at the positions that follow the prefix;
its last hidden states (after the final norm) are the ``N`` latent embeddings. The decoder then runs the
latents as input embeddings at those same positions, which appends them to its cache, and continues
from the augmented cache: the last latent's logits predict the first token after the prefix. Only the
coprocessor and the soft tokens are trained; the decoder's parameters never require gradients.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from paperzoo_tinylm.cache import KVCache
from paperzoo_tinylm.hooks import patch
from paperzoo_tinylm.model import TinyLMDecoder, TinyLMOutput
from torch import nn

IGNORE = -100


def clone_cache(cache: KVCache) -> KVCache:
    """A cache holding the same tensors: appending to it leaves ``cache`` unchanged."""
    return KVCache(list(cache.keys), list(cache.values))


def crop_cache(cache: KVCache, length: int) -> KVCache:
    """A new cache of the first ``length`` positions of ``cache`` (``cache`` is unchanged)."""
    return KVCache([k[..., :length, :] for k in cache.keys], [v[..., :length, :] for v in cache.values])


def embeds_forward(
    model: TinyLMDecoder,
    embeds: torch.Tensor,
    past_key_values: KVCache | None = None,
    use_cache: bool = False,
    output_hidden_states: bool = False,
) -> TinyLMOutput:
    """Run a tinylm decoder on input embeddings ``[B, N, d_model]`` instead of token ids, at the positions
    that continue ``past_key_values`` (which is extended in place when given). The embeddings take the
    token embeddings' place: learned positions, the embedding norm and dropout apply to them as to tokens;
    RoPE rotates their queries and keys by their positions. Implemented with the kit's ``embed`` patch."""
    b, n, _ = embeds.shape
    start = past_key_values.get_seq_length() if past_key_values is not None else 0
    x, cfg = embeds, model.config
    if cfg.position == "learned":
        x = x + model.pos_embed(torch.arange(start, start + n, device=x.device))[None]
    if cfg.embed_norm:
        x = model.embed_norm(x)
    x = model.drop(x)
    dummy = torch.zeros(b, n, dtype=torch.long, device=x.device)
    with patch(model, "embed", lambda _: x):
        return model(
            dummy,
            past_key_values=past_key_values,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
        )


class KVCacheCoprocessor(nn.Module):
    """A frozen decoder augmented by a coprocessor that writes ``n_latents`` latent embeddings into its
    cache (Liu et al., 2024).

    :param n_latents: ``N``, the soft tokens and latent embeddings (0: the frozen decoder alone).
    :param decoder: the decoder to freeze (a ``TinyLMDecoder``); else built from ``config``.
    :param pretrained: the name of a tinylm checkpoint to load as the decoder (e.g. ``stdlib-small``).
    :param soft_tokens_only: the control without a coprocessor: the latents are the soft tokens
        themselves (prompt tuning with ``N`` tokens), independent of the prefix.
    :param latent_scale: a constant factor on the coprocessor's outputs before the decoder reads them:
        ``"embedding"`` (default) the root mean square of the decoder's token embeddings, so that latents
        (final-norm outputs, of unit scale) enter on the scale of the tokens; ``1.0`` the paper's
        unscaled outputs.
    :param config: ``TinyLMConfig`` fields of a new decoder (when neither ``decoder`` nor ``pretrained``).
    """

    def __init__(
        self,
        n_latents: int = 4,
        decoder: TinyLMDecoder | None = None,
        pretrained: str | None = None,
        soft_tokens_only: bool = False,
        latent_scale: float | str = "embedding",
        **config: Any,
    ) -> None:
        super().__init__()
        if not isinstance(n_latents, int) or isinstance(n_latents, bool) or n_latents < 0:
            raise ValueError(f"n_latents: got {n_latents!r}; accepted: an integer >= 0")
        if decoder is not None and (pretrained or config):
            raise ValueError("decoder: given together with pretrained/config fields; accepted: one of them")
        if decoder is None:
            if pretrained:
                import paperzoo_tinylm

                decoder = paperzoo_tinylm.pretrained(pretrained)
            else:
                decoder = TinyLMDecoder(**config)
        self.n_latents, self.soft_tokens_only = n_latents, bool(soft_tokens_only)
        self.decoder = decoder
        self.freeze_decoder()
        d = decoder.config.d_model
        rms = float(decoder.tok_embed.weight.detach().float().pow(2).mean().sqrt())
        if latent_scale == "embedding":
            latent_scale = rms
        if isinstance(latent_scale, bool) or not isinstance(latent_scale, (int, float)) or latent_scale <= 0:
            raise ValueError(f"latent_scale: got {latent_scale!r}; accepted: 'embedding' or a number > 0")
        self.register_buffer("latent_scale", torch.tensor(float(latent_scale)))  # saved with the weights
        self.soft_tokens = nn.Parameter(torch.randn(n_latents, d) * rms)  # on the embeddings' scale
        self.coprocessor = None
        if n_latents and not soft_tokens_only:
            self.coprocessor = copy.deepcopy(decoder)
            self.coprocessor.requires_grad_(True)
            # it reads soft tokens and returns hidden states: its token embedding and head are unused
            self.coprocessor.tok_embed.requires_grad_(False)
            self.coprocessor.lm_head.requires_grad_(False)
        self.decoder.eval()

    # -- parameters ---------------------------------------------------------------------------------
    def freeze_decoder(self) -> None:
        """The decoder's parameters stop requiring gradients (it is never trained with the coprocessor)."""
        self.decoder.requires_grad_(False)

    def reset_coprocessor(self) -> None:
        """Copy the decoder's current weights into the coprocessor (its initialisation)."""
        if self.coprocessor is not None:
            self.coprocessor.load_state_dict(self.decoder.state_dict())

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The coprocessor's parameters and the soft tokens."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> KVCacheCoprocessor:
        """Training mode for the coprocessor; the frozen decoder stays in eval mode."""
        super().train(mode)
        self.decoder.eval()
        return self

    # -- the method ---------------------------------------------------------------------------------
    def latents(self, cache: KVCache) -> torch.Tensor:
        """``[B, N, d_model]``: the coprocessor's last hidden states over the soft tokens, placed after the
        cached prefix and attending to the decoder's cache as its own ``past_key_values``."""
        b = cache.keys[0].shape[0]
        soft = self.soft_tokens[None].expand(b, -1, -1)
        if self.coprocessor is None:
            return soft
        out = embeds_forward(self.coprocessor, soft, clone_cache(cache), output_hidden_states=True)
        return out.hidden_states[-1] * self.latent_scale

    def augment(self, cache: KVCache) -> tuple[KVCache, torch.Tensor]:
        """The cache with the latents appended by the decoder, and the decoder's logits ``[B, 1, V]`` at
        the last latent (its prediction of the token after the prefix). ``cache`` is unchanged."""
        out = embeds_forward(self.decoder, self.latents(cache), clone_cache(cache), use_cache=True)
        return out.past_key_values, out.logits[:, -1:]

    def continue_from(
        self, cache: KVCache, last_logits: torch.Tensor, continuation: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[B, 1 + C, V]`` predicting the ``C`` tokens of ``continuation`` and the one after, from
        the prefix ``cache`` (and its last logits, used when ``N = 0``) augmented by the latents."""
        if self.n_latents:
            cache, last_logits = self.augment(cache)
        parts = [last_logits]
        if continuation.shape[1]:
            parts.append(self.decoder(continuation, past_key_values=clone_cache(cache)).logits)
        return torch.cat(parts, dim=1)

    def forward(self, input_ids: torch.Tensor, split: int | None = None) -> TinyLMOutput:
        """Logits ``[B, T, V]`` aligned with ``input_ids`` (position ``t`` predicts token ``t + 1``), with
        the cache augmented after the first ``split`` tokens (default ``T // 2``, at least 1): positions
        before ``split - 1`` are the frozen decoder's, the rest come from the augmented cache."""
        t = input_ids.shape[1]
        split = max(1, t // 2) if split is None else split
        if not 1 <= split <= t:
            raise ValueError(f"split: got {split}; accepted: 1 <= split <= {t} (the sequence length)")
        with torch.no_grad():  # the prefix pass has nothing to train: the decoder is frozen
            pre = self.decoder(input_ids[:, :split], use_cache=True)
        ahead = self.continue_from(pre.past_key_values, pre.logits[:, -1:], input_ids[:, split:])
        return TinyLMOutput(logits=torch.cat([pre.logits[:, :-1], ahead[:, : t - split + 1]], dim=1))

    def ahead_loss(
        self, input_ids: torch.Tensor, targets: torch.Tensor, splits: list[int], ahead: int
    ) -> torch.Tensor:
        """The training loss: mean cross-entropy on the ``ahead`` targets that follow each split point
        (``targets[:, s - 1 : s - 1 + ahead]``, ``-100`` ignored), every split augmented separately.
        The decoder reads the whole sequence once; each split's prefix cache is a crop of it (causal
        attention: keys before ``s`` do not depend on later tokens)."""
        with torch.no_grad():
            full = self.decoder(input_ids, use_cache=True)
        total = input_ids.new_zeros((), dtype=torch.float32)
        count = 0
        for s in splits:
            cache = crop_cache(full.past_key_values, s)
            logits = self.continue_from(cache, full.logits[:, s - 1 : s], input_ids[:, s : s - 1 + ahead])
            y = targets[:, s - 1 : s - 1 + ahead]
            total = total + F.cross_entropy(
                logits[:, : y.shape[1]].flatten(0, 1).float(),
                y.flatten(),
                ignore_index=IGNORE,
                reduction="sum",
            )
            count += int((y != IGNORE).sum())
        return total / max(count, 1)


def frozen_ahead_loss(
    decoder: nn.Module, input_ids: torch.Tensor, targets: torch.Tensor, splits: list[int], ahead: int
) -> torch.Tensor:
    """The baseline of :meth:`KVCacheCoprocessor.ahead_loss`: the decoder alone on the same targets."""
    logits = decoder(input_ids).logits
    total, count = logits.new_zeros((), dtype=torch.float32), 0
    for s in splits:
        y = targets[:, s - 1 : s - 1 + ahead]
        lg = logits[:, s - 1 : s - 1 + y.shape[1]]
        total = total + F.cross_entropy(
            lg.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE, reduction="sum"
        )
        count += int((y != IGNORE).sum())
    return total / max(count, 1)


def full_sequence_logits(model: KVCacheCoprocessor, input_ids: torch.Tensor, split: int) -> torch.Tensor:
    """The reference of :meth:`KVCacheCoprocessor.forward`: the decoder run once, without a cache, on the
    embeddings ``[tokens before split, latents, tokens from split]``, the latents' rows dropped except the
    last (whose logits predict the token at ``split``). The latents come from the cache as in the method."""
    dec = model.decoder
    with torch.no_grad():
        cache = dec(input_ids[:, :split], use_cache=True).past_key_values
    z = model.latents(cache)
    emb = torch.cat([dec.tok_embed(input_ids[:, :split]), z, dec.tok_embed(input_ids[:, split:])], dim=1)
    logits = embeds_forward(dec, emb).logits
    n = z.shape[1]
    return torch.cat([logits[:, : split - 1], logits[:, split - 1 + n :]], dim=1)


@torch.no_grad()
def greedy_generate(model: KVCacheCoprocessor, prompt: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """Greedy decoding ``[B, S + max_new_tokens]``: the decoder reads the prompt, the coprocessor augments
    its cache once (``N > 0``), then the decoder generates from the augmented cache."""
    pre = model.decoder(prompt, use_cache=True)
    cache, logits = pre.past_key_values, pre.logits[:, -1:]
    if model.n_latents:
        cache, logits = model.augment(cache)
    out = [prompt]
    for _ in range(max_new_tokens):
        token = logits[:, -1].argmax(-1, keepdim=True)
        out.append(token)
        step = model.decoder(token, past_key_values=cache, use_cache=True)
        cache, logits = step.past_key_values, step.logits
    return torch.cat(out, dim=1)
