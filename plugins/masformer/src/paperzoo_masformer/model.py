"""MASFormer as a tinylm decoder: a chosen set of blocks with full causal attention, the rest with causal
sliding-window attention of span ``window``.

tinylm's config sets one attention kernel for every block, so :class:`MASFormer` builds an ordinary
``tinylm_decoder`` and then replaces each block's kernel (``blocks.<i>.attn.kernel``, a module without
parameters) by a :class:`~paperzoo_masformer.attention.MixedSpanAttention`: ``window=None`` in the full
blocks, ``window=w`` in the others. Projections, norms, positions, the cache and the hook names are
tinylm's, so a MASFormer's weights load into (and from) a tinylm decoder of the same size.
"""

from __future__ import annotations

from typing import Any

from paperzoo_tinylm.config import TinyLMConfig, make_config, with_config_signature
from paperzoo_tinylm.model import TinyLMDecoder

from paperzoo_masformer.attention import FORMS, MixedSpanAttention


def full_layer_indices(n_layers: int, n_full: int = 1, full_layers: list[int] | None = None) -> list[int]:
    """The blocks with full attention: ``full_layers`` when given, else the bottom ``n_full`` blocks
    (the paper's placement)."""
    if full_layers is not None:
        ok = all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n_layers for i in full_layers)
        if not ok or len(set(full_layers)) != len(full_layers):
            raise ValueError(
                f"full_layers: got {full_layers!r}; accepted: distinct block indices from 0 to {n_layers - 1}"
            )
        return sorted(full_layers)
    if isinstance(n_full, bool) or not isinstance(n_full, int) or not 0 <= n_full <= n_layers:
        raise ValueError(f"n_full: got {n_full!r}; accepted: an integer from 0 to n_layers={n_layers}")
    return list(range(n_full))


def attention_cost(n: int, n_layers: int, n_full: int, window: int, causal: bool = False) -> int:
    """Attention score entries (query-key products) of one sequence of ``n`` tokens, summed over layers.

    ``causal=False``: the paper's count ``l n^2 + (L - l) n w`` (every query of a full layer scores ``n``
    keys, of a local layer ``w``). ``causal=True``: the entries the causal masks allow,
    ``l n (n + 1) / 2 + (L - l) sum_i min(i + 1, w)``. The multiply-adds of ``q k^T`` and of the weighted
    sum of values are each ``head_dim`` times this per head.
    """
    local = n_layers - n_full
    if not causal:
        return n_full * n * n + local * n * window
    m = min(n, window)  # sum_{i<n} min(i + 1, w) = m (m + 1) / 2 + (n - m) w
    return n_full * n * (n + 1) // 2 + local * (m * (m + 1) // 2 + (n - m) * window)


@with_config_signature(exclude=("attention", "attention_params"))
class MASFormer(TinyLMDecoder):
    """MASFormer causal LM (``masformer``): full causal attention in the chosen blocks (the bottom
    ``n_full`` by default), causal sliding-window attention of span ``window`` in the others.

    :param window: the span ``w`` of the sliding-window blocks (query ``i`` sees keys ``i - w + 1 .. i``).
    :param n_full: how many bottom blocks use full attention (``l``; 0: every block local).
    :param full_layers: the full-attention blocks by index, overriding ``n_full``.
    :param form: the sliding-window kernel's form (``sdpa``, ``eager``, ``blocked``; the same result).
    :param block_size: queries per block of the ``blocked`` form (``None``: ``window``).
    :param config: any other :class:`~paperzoo_tinylm.config.TinyLMConfig` field; ``attention`` is set here.
    """

    def __init__(
        self,
        config: TinyLMConfig | None = None,
        *,
        window: int = 128,
        n_full: int = 1,
        full_layers: list[int] | None = None,
        form: str = "sdpa",
        block_size: int | None = None,
        **params: Any,
    ) -> None:
        for name in ("attention", "attention_params"):
            if name in params:
                raise ValueError(f"{name}: set by window and n_full in masformer; accepted: omit it")
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; accepted: one of {', '.join(FORMS)}")
        cfg = make_config(config, params)
        if cfg.attention != "softmax":
            raise ValueError(
                f"attention: got {cfg.attention!r}; accepted: softmax (masformer sets the kernels)"
            )
        full = full_layer_indices(cfg.n_layers, n_full, full_layers)
        MixedSpanAttention(window)  # checks window before building
        super().__init__(cfg)
        self.window, self.full_layers, self.form = window, full, form
        for i, block in enumerate(self.blocks):
            span = None if i in full else window
            block.attn.kernel = MixedSpanAttention(span, form, block_size, impl=cfg.attn_impl)

    @property
    def spans(self) -> list[int | None]:
        """Each block's span (``None``: full attention)."""
        return [b.attn.kernel.window for b in self.blocks]

    def attention_cost(self, n: int, causal: bool = False) -> int:
        """:func:`attention_cost` of this model for ``n`` tokens."""
        return attention_cost(n, len(self.blocks), len(self.full_layers), self.window, causal)
