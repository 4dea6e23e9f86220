"""Mixed-span attention: causal sliding-window attention of span ``w``, or full causal attention.

Query at position ``i`` sees keys ``i - w + 1 .. i`` (``w`` keys, itself included; fewer at the start of a
sequence). ``window=None`` is full causal attention (tinylm's softmax kernel). Three forms of the banded
kernel give the same result (tests: within 1e-12 in float64):

* ``sdpa``: ``scaled_dot_product_attention`` with a boolean band mask ``[Tq, Tk]`` (memory ``T^2``);
* ``eager``: the explicit softmax with the same mask;
* ``blocked``: queries in blocks of ``b``; each block attends to its own ``b + w - 1`` keys (the keys it
  can see), so scores take ``T (b + w - 1)`` entries instead of ``T^2``: memory grows as ``T w``.

When the band covers every visible key (``w >= q_offset + Tq``) the mask equals the causal mask and the
kernel runs tinylm's full causal softmax kernel itself (bitwise the same result).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from paperzoo_tinylm.attention import AttentionMask, SoftmaxAttention, repeat_kv
from torch import nn

FORMS = ("sdpa", "eager", "blocked")


def band_mask(tq: int, tk: int, window: int | None, q_offset: int = 0, device=None) -> torch.Tensor:
    """Boolean ``[Tq, Tk]``: query ``i`` (position ``q_offset + i``) may see key ``j`` iff
    ``q_offset + i - window < j <= q_offset + i`` (``window=None``: every ``j <= q_offset + i``)."""
    q_pos = torch.arange(tq, device=device)[:, None] + q_offset
    k_pos = torch.arange(tk, device=device)[None, :]
    ok = k_pos <= q_pos
    return ok if window is None else ok & (k_pos > q_pos - window)


def _allowed(mask: AttentionMask | None, tq: int, tk: int, window: int, device) -> torch.Tensor:
    """The band combined with ``mask``'s key padding: ``[B|1, 1, Tq, Tk]``."""
    offset = 0 if mask is None else mask.q_offset
    ok = band_mask(tq, tk, window, offset, device)[None, None]
    if mask is not None and mask.key_padding is not None:
        diag = band_mask(tq, tk, 1, offset, device)[None, None]  # a query always sees itself
        ok = (ok & mask.key_padding[:, None, None, :].bool()) | diag
    return ok


def sliding_window_blocked(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    q_offset: int = 0,
    block_size: int | None = None,
    key_padding: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Causal sliding-window attention computed block by block, all blocks at once.

    ``q`` ``[B, H, Tq, D]``, ``k, v`` ``[B, H, Tk, D]`` with ``Tk = q_offset + Tq`` (the cached keys, then
    the queries' own). Only the last ``Tq + w - 1`` keys matter: they are left-padded to exactly that
    length, so that query ``i`` sees padded keys ``i .. i + w - 1``; block ``n`` (queries ``n b .. n b +
    b - 1``) reads the ``b + w - 1`` padded keys from ``n b``. Scores: ``[B, H, Tq / b, b, b + w - 1]``.

    :param block_size: queries per block (``None``: ``window``).
    :param key_padding: ``[B, Tk]`` (True: a real token); a query always sees itself.
    """
    b_, h, tq, d = q.shape
    tk = k.shape[2]
    if tk != q_offset + tq:
        raise ValueError(
            f"keys: got {tk} keys for {tq} queries at offset {q_offset}; accepted: q_offset + Tq"
        )
    w = window
    bs = w if block_size is None else block_size
    scale = d**-0.5 if scale is None else scale
    start = max(0, q_offset - w + 1)  # the first key any query can see
    k, v = k[:, :, start:], v[:, :, start:]
    left = w - 1 - (q_offset - start)  # zero keys before position 0
    n_blocks = -(-tq // bs)
    right = n_blocks * bs - tq  # the last block's missing queries
    span = bs + w - 1
    real = torch.ones(b_, tk - start, dtype=torch.bool, device=q.device)
    if key_padding is not None:
        real = key_padding[:, start:].bool()
    # [B, 1, L] with L = left + (Tk - start) + right = n_blocks * bs + w - 1
    real = F.pad(real, (left, right), value=False)[:, None]
    kp = F.pad(k, (0, 0, left, right)).unfold(2, span, bs)  # [B, H, nb, D, span]
    vp = F.pad(v, (0, 0, left, right)).unfold(2, span, bs)
    qb = F.pad(q, (0, 0, 0, right)).view(b_, h, n_blocks, bs, d)
    scores = (qb @ kp) * scale  # [B, H, nb, bs, span]
    r = torch.arange(bs, device=q.device)[:, None]
    c = torch.arange(span, device=q.device)[None, :]
    band = (c >= r) & (c <= r + w - 1)  # padded key c of query r in its block: positions i - w + 1 .. i
    seen = real.unfold(2, span, bs)[:, :, :, None, :]  # [B, 1, nb, 1, span]
    if key_padding is not None:
        band = band & seen | (c == r + w - 1)
    else:
        band = band & seen
    # the finite minimum, not -inf: a padded query row past the end may see no key (no NaN; discarded)
    scores = scores.masked_fill(~band, torch.finfo(scores.dtype).min)
    z = scores.softmax(-1) @ vp.transpose(-1, -2)  # [B, H, nb, bs, D]
    return z.reshape(b_, h, n_blocks * bs, d)[:, :, :tq]


def sliding_window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    mask: AttentionMask | None = None,
    form: str = "sdpa",
    block_size: int | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Causal sliding-window attention of span ``window`` in one of :data:`FORMS` (the band always, even
    where it covers every key). ``k, v`` may have fewer (grouped-query) heads than ``q``."""
    groups = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, groups), repeat_kv(v, groups)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    tq, tk = q.shape[2], k.shape[2]
    if form == "blocked":
        offset, padding = (0, None) if mask is None else (mask.q_offset, mask.key_padding)
        return sliding_window_blocked(q, k, v, window, offset, block_size, padding, scale)
    ok = _allowed(mask, tq, tk, window, q.device)
    if form == "eager":
        return ((q @ k.transpose(-1, -2)) * scale).masked_fill(~ok, float("-inf")).softmax(-1) @ v
    return F.scaled_dot_product_attention(q, k, v, attn_mask=ok, scale=scale)


class MixedSpanAttention(nn.Module):
    """A tinylm attention kernel (``mixed_span_attention``): causal sliding-window attention of span
    ``window`` (query ``i`` sees keys ``i - window + 1 .. i``), or full causal attention when ``window`` is
    ``None``.

    :param window: the span ``w`` (a positive integer), or ``None`` for full causal attention.
    :param form: the banded kernel's form: ``sdpa`` (boolean band mask), ``eager`` (explicit softmax) or
        ``blocked`` (memory ``T w``); the same result.
    :param block_size: queries per block of the ``blocked`` form (``None``: ``window``).
    :param impl: the full-attention kernel's ``impl`` (``sdpa`` or ``eager``), as tinylm's ``attn_impl``.
    :param scale: score scale (``None``: ``1 / sqrt(Dh)``).
    """

    def __init__(
        self,
        window: int | None = None,
        form: str = "sdpa",
        block_size: int | None = None,
        impl: str = "sdpa",
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
            raise ValueError(
                f"window: got {window!r}; accepted: a positive integer, or None (full attention)"
            )
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; accepted: one of {', '.join(FORMS)}")
        if block_size is not None and (
            isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1
        ):
            raise ValueError(f"block_size: got {block_size!r}; accepted: a positive integer, or None")
        self.window, self.form, self.block_size, self.scale = window, form, block_size, scale
        self.full = SoftmaxAttention(scale=scale, impl=impl)

    def extra_repr(self) -> str:
        return f"window={self.window}, form={self.form!r}, block_size={self.block_size}"

    def forward(self, q, k=None, v=None, mask: AttentionMask | None = None, pattern=None) -> torch.Tensor:
        """``q`` ``[B, H, Tq, Dh]``, ``k, v`` ``[B, H_kv, Tk, Dh]`` (default: ``q``, self-attention of one
        tensor), ``mask`` (default: causal), ``pattern`` the ``attn.pattern`` hook point; ``z``
        ``[B, H, Tq, Dh]``."""
        k = q if k is None else k
        v = k if v is None else v
        mask = AttentionMask(causal=True) if mask is None else mask
        if not mask.causal or mask.cross:
            raise ValueError("mask: mixed-span attention is causal self-attention; accepted: a causal mask")
        tq, tk = q.shape[2], k.shape[2]
        if self.window is None or self.window >= mask.q_offset + tq:  # the band is the causal mask
            return self.full(q, k, v, mask, _Quiet() if pattern is None else pattern)
        if pattern is not None and pattern.active:
            groups = q.shape[1] // k.shape[1]
            kr, vr = repeat_kv(k, groups), repeat_kv(v, groups)
            scale = q.shape[-1] ** -0.5 if self.scale is None else self.scale
            ok = _allowed(mask, tq, tk, self.window, q.device)
            probs = ((q @ kr.transpose(-1, -2)) * scale).masked_fill(~ok, float("-inf")).softmax(-1)
            if pattern.patching:
                return pattern(probs) @ vr
            with torch.no_grad():
                pattern(probs)
        return sliding_window_attention(q, k, v, self.window, mask, self.form, self.block_size, self.scale)


class _Quiet:
    """A stand-in for an unobserved ``attn.pattern`` hook point (the kernel called on its own)."""

    active = False
    patching = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x
