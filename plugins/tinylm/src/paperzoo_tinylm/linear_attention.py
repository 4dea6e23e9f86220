"""Linear attention: one core in three forms that compute the same thing, and a tinylm attention kernel.

With feature maps already applied (``q``, ``k`` below stand for ``phi(q)``, ``phi(k)``), an optional
per-head scalar decay ``g`` in ``(0, 1]`` (``None``: 1) and causal order, every form computes

    o_t = sum_{s <= t} (q_t . k_s) g^(t - s) v_s  [ / (sum_{s <= t} (q_t . k_s) g^(t - s) + eps) ]

(the bracket when ``normalize``; non-causal: the sums run over every ``s`` and there is no decay):

* :func:`linear_attention_parallel`: the quadratic masked form ``((q k^T) * D) v``, ``D[t, s] =
  g^(t - s)`` for ``s <= t`` (``linear_attention_weights`` gives the matrix);
* :func:`linear_attention_recurrent`: ``S_t = g S_{t-1} + k_t^T v_t``, ``o_t = q_t S_t`` (and ``z_t =
  g z_{t-1} + k_t``, ``q_t . z_t`` the normaliser), one step at a time, a state in and a state out
  (:func:`linear_attention_step` is one decoding step);
* :func:`linear_attention_chunked`: the chunkwise ("lightning") form: within a chunk the quadratic form,
  across chunks the state, all chunks at once (the states at chunk starts come from one product with a
  ``[N, N]`` decay matrix, or a cumulative sum without decay).

Shapes: ``q, k`` ``[B, H, T, Dk]``, ``v`` ``[B, H, T, Dv]``; a decay is a float or a tensor ``[H]``.
The normaliser is carried as one more value column (``v`` with a column of ones), so every form shares
it. :class:`LinearAttention` is the registered kernel ``tinylm_linear_attention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from paperzoo_tinylm.attention import AttentionMask, repeat_kv

Decay = float | Sequence[float] | torch.Tensor | None


def _elu1(x: torch.Tensor) -> torch.Tensor:
    return F.elu(x) + 1.0


#: Feature maps by name; :func:`register_feature_map` adds more.
FEATURE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "elu1": _elu1,
    "relu": F.relu,
}

FORMS = ("parallel", "recurrent", "chunked")


def register_feature_map(name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Make ``fn`` (elementwise or any ``[..., D] -> [..., D']`` map) available as ``feature_map=name``."""
    if name in FEATURE_MAPS and FEATURE_MAPS[name] is not fn:
        raise ValueError(f"feature_map: {name!r} is already registered; accepted: a new name")
    FEATURE_MAPS[name] = fn


@dataclass
class LinearAttentionState:
    """The recurrent state after some tokens: ``kv`` ``[B, H, Dk, Dv]`` = ``sum_s g^(t-s) k_s^T v_s``
    and, with a normaliser, ``z`` ``[B, H, Dk]`` = ``sum_s g^(t-s) k_s`` (else ``None``)."""

    kv: torch.Tensor
    z: torch.Tensor | None = None


# -- helpers ---------------------------------------------------------------------------------------
def _log_decay(decay: Decay, heads: int, like: torch.Tensor) -> torch.Tensor | None:
    """``log g`` per head ``[H]`` (``None``: no decay)."""
    if decay is None:
        return None
    g = torch.as_tensor(decay, dtype=like.dtype, device=like.device)
    if g.dim() == 0:
        g = g.expand(heads)
    if g.shape != (heads,):
        raise ValueError(
            f"decay: got shape {tuple(g.shape)}; accepted: a float or one value per head ({heads})"
        )
    if not bool(((g > 0) & (g <= 1)).all()):
        raise ValueError(f"decay: got {g.tolist()}; accepted: values in (0, 1]")
    return g.log()


def _pack(v: torch.Tensor, normalize: bool) -> torch.Tensor:
    """``v`` with a column of ones appended when normalising (its output is the normaliser)."""
    return torch.cat([v, torch.ones_like(v[..., :1])], -1) if normalize else v


def _unpack(o: torch.Tensor, normalize: bool, eps: float) -> torch.Tensor:
    return o[..., :-1] / (o[..., -1:] + eps) if normalize else o


def _pack_state(state: LinearAttentionState | None, normalize: bool) -> torch.Tensor | None:
    if state is None:
        return None
    if normalize != (state.z is not None):
        raise ValueError("state: its normaliser z must be present exactly when normalize=True")
    return torch.cat([state.kv, state.z[..., None]], -1) if normalize else state.kv


def _unpack_state(s: torch.Tensor, normalize: bool) -> LinearAttentionState:
    return LinearAttentionState(s[..., :-1], s[..., -1]) if normalize else LinearAttentionState(s)


def _check_causal_decay(causal: bool, log_g: torch.Tensor | None) -> None:
    if not causal and log_g is not None:
        raise ValueError("decay: only causal linear attention decays; accepted: decay=None with causal=False")


def _decay_matrix(
    log_g: torch.Tensor | None, tq: int, tk: int, q_offset: int, causal: bool, like: torch.Tensor
) -> torch.Tensor:
    """``D[h, t, s] = g_h^(t - s)`` where ``s <= t`` (query ``t`` at position ``q_offset + t``), else 0:
    ``[H|1, Tq, Tk]``."""
    diff = torch.arange(tq, device=like.device)[:, None] + q_offset - torch.arange(tk, device=like.device)
    if not causal:
        return torch.ones(1, tq, tk, dtype=like.dtype, device=like.device)
    allowed = diff >= 0
    if log_g is None:
        return allowed.to(like.dtype)[None]
    powers = torch.exp(diff.clamp(min=0).to(like.dtype) * log_g[:, None, None])
    return torch.where(allowed, powers, torch.zeros((), dtype=like.dtype, device=like.device))


# -- the three forms ---------------------------------------------------------------------------------
def linear_attention_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    decay: Decay = None,
    normalize: bool = False,
    causal: bool = True,
    q_offset: int = 0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """The attention matrix ``[B, H, Tq, Tk]`` of the parallel form: ``(q k^T) * D``, rows divided by
    their sum plus ``eps`` when normalising (``q`` at positions ``q_offset ...``)."""
    log_g = _log_decay(decay, q.shape[1], q)
    _check_causal_decay(causal, log_g)
    a = (q @ k.transpose(-1, -2)) * _decay_matrix(log_g, q.shape[2], k.shape[2], q_offset, causal, q)
    return a / (a.sum(-1, keepdim=True) + eps) if normalize else a


def linear_attention_parallel(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: Decay = None,
    normalize: bool = False,
    causal: bool = True,
    q_offset: int = 0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """The quadratic masked form ``[B, H, Tq, Dv]`` (query ``t`` sees keys ``s <= q_offset + t``): the
    unnormalised :func:`linear_attention_weights` times ``v`` (with the normaliser's column of ones)."""
    a = linear_attention_weights(q, k, decay=decay, causal=causal, q_offset=q_offset)
    return _unpack(a @ _pack(v, normalize), normalize, eps)


def linear_attention_state(
    k: torch.Tensor, v: torch.Tensor, *, decay: Decay = None, normalize: bool = False
) -> LinearAttentionState:
    """The state after the tokens ``k``, ``v`` (from zero): ``sum_s g^(T-1-s) k_s^T v_s`` in one product."""
    log_g = _log_decay(decay, k.shape[1], k)
    if log_g is not None:
        t = k.shape[2]
        k = (
            k
            * torch.exp(torch.arange(t - 1, -1, -1, device=k.device, dtype=k.dtype) * log_g[:, None])[
                ..., None
            ]
        )
    return _unpack_state(k.transpose(-1, -2) @ _pack(v, normalize), normalize)


def linear_attention_recurrent(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: Decay = None,
    normalize: bool = False,
    causal: bool = True,
    eps: float = 1e-6,
    state: LinearAttentionState | None = None,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """The recurrent form, a loop over tokens: ``S_t = g S_{t-1} + k_t^T v_t``, ``o_t = q_t S_t``,
    starting from ``state`` (``None``: zero). Returns the outputs and the state after the last token.
    Non-causal: the loop builds the final state, which every query reads."""
    b, h, t, dk = k.shape
    log_g = _log_decay(decay, h, q)
    _check_causal_decay(causal, log_g)
    vp = _pack(v, normalize)
    s = _pack_state(state, normalize)
    if s is None:
        s = q.new_zeros(b, h, dk, vp.shape[-1])
    g = None if log_g is None else log_g.exp()[None, :, None, None]
    outs = []
    for i in range(t):
        s = (s if g is None else g * s) + k[:, :, i, :, None] * vp[:, :, i, None, :]
        if causal:
            outs.append(q[:, :, i, None, :] @ s)
    o = torch.cat(outs, 2) if causal else q @ s
    return _unpack(o, normalize, eps), _unpack_state(s, normalize)


def linear_attention_step(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    state: LinearAttentionState | None,
    *,
    decay: Decay = None,
    normalize: bool = False,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """One causal decoding step: ``q, k`` ``[B, H, Dk]``, ``v`` ``[B, H, Dv]`` -> output ``[B, H, Dv]``
    and the new state."""
    o, state = linear_attention_recurrent(
        q[:, :, None], k[:, :, None], v[:, :, None], decay=decay, normalize=normalize, eps=eps, state=state
    )
    return o[:, :, 0], state


def linear_attention_chunked(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    decay: Decay = None,
    normalize: bool = False,
    causal: bool = True,
    eps: float = 1e-6,
    chunk_size: int = 64,
    state: LinearAttentionState | None = None,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """The chunkwise form: the quadratic form inside chunks of ``chunk_size`` tokens, the state across
    them, every chunk at once; any length (the last chunk is padded with zeros). Returns the outputs
    and the state after the last token, as :func:`linear_attention_recurrent`."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size: got {chunk_size}; accepted: at least 1")
    b, h, t, dk = k.shape
    log_g = _log_decay(decay, h, q)
    _check_causal_decay(causal, log_g)
    vp = _pack(v, normalize)
    s0 = _pack_state(state, normalize)
    if not causal:
        s = k.transpose(-1, -2) @ vp + (0 if s0 is None else s0)
        return _unpack(q @ s, normalize, eps), _unpack_state(s, normalize)
    if t == 0:
        s = q.new_zeros(b, h, dk, vp.shape[-1]) if s0 is None else s0
        return _unpack(q @ s, normalize, eps), _unpack_state(s, normalize)
    c = min(chunk_size, t)
    n = -(-t // c)
    pad = n * c - t
    qc, kc, vc = (F.pad(x, (0, 0, 0, pad)).view(b, h, n, c, x.shape[-1]) for x in (q, k, vp))
    idx = torch.arange(c, device=q.device, dtype=q.dtype)
    inner = _decay_matrix(log_g, c, c, 0, True, q)  # [H|1, C, C]
    o = ((qc @ kc.transpose(-1, -2)) * inner[:, None]) @ vc  # intra-chunk
    if log_g is None:
        u = kc.transpose(-1, -2) @ vc  # [B, H, N, Dk, Dv]: each chunk's own contribution
        starts = u.cumsum(2) - u  # exclusive prefix sum: the state at each chunk's start
        if s0 is not None:
            starts = starts + s0[:, :, None]
        o = o + qc @ starts
    else:
        lg = log_g[:, None]  # [H, 1]
        u = (kc * torch.exp((c - 1 - idx) * lg)[None, :, None, :, None]).transpose(-1, -2) @ vc
        chunks = torch.arange(n, device=q.device, dtype=q.dtype)
        lag = chunks[:, None] - 1 - chunks[None, :]  # [N, N]: n - 1 - m
        across = torch.where(lag >= 0, torch.exp(c * lag.clamp(min=0) * log_g[:, None, None]), 0.0)
        starts = torch.einsum("hnm,bhmde->bhnde", across.to(q.dtype), u)
        if s0 is not None:
            starts = starts + torch.exp(c * chunks * lg)[None, :, :, None, None] * s0[:, :, None]
        o = o + (qc * torch.exp((idx + 1) * lg)[None, :, None, :, None]) @ starts
    o = o.reshape(b, h, n * c, -1)[:, :, :t]
    # the state after the last real token: the last chunk's start state plus its real tokens
    last = t - (n - 1) * c
    k_last, v_last, s = kc[:, :, -1, :last], vc[:, :, -1, :last], starts[:, :, -1]
    if log_g is not None:
        lg = log_g[:, None]
        s = torch.exp(last * lg)[None, :, :, None] * s
        k_last = k_last * torch.exp((last - 1 - idx[:last]) * lg)[None, :, :, None]
    s = s + k_last.transpose(-1, -2) @ v_last
    return _unpack(o, normalize, eps), _unpack_state(s, normalize)


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    feature_map: str | Callable[[torch.Tensor], torch.Tensor] = "identity",
    form: str = "chunked",
    decay: Decay = None,
    normalize: bool = False,
    causal: bool = True,
    eps: float = 1e-6,
    chunk_size: int = 64,
) -> torch.Tensor:
    """``phi`` on ``q`` and ``k`` (a name of :data:`FEATURE_MAPS` or a callable), then ``form``
    (``parallel``, ``recurrent`` or ``chunked``): the outputs ``[B, H, T, Dv]``."""
    phi = resolve_feature_map(feature_map)
    fq, fk = phi(q), phi(k)
    opts = dict(decay=decay, normalize=normalize, causal=causal, eps=eps)
    if form == "parallel":
        return linear_attention_parallel(fq, fk, v, **opts)
    if form == "recurrent":
        return linear_attention_recurrent(fq, fk, v, **opts)[0]
    if form == "chunked":
        return linear_attention_chunked(fq, fk, v, chunk_size=chunk_size, **opts)[0]
    raise ValueError(f"form: got {form!r}; accepted: one of {FORMS}")


def resolve_feature_map(feature_map: str | Callable, **params) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable feature map: a callable as is, a name of :data:`FEATURE_MAPS`, or else a registered
    paperzoo layer of that name built ``create(name, **params)`` (e.g. random features with buffers)."""
    if callable(feature_map):
        return feature_map
    if feature_map in FEATURE_MAPS:
        return FEATURE_MAPS[feature_map]
    import paperzoo

    try:
        spec = paperzoo.get(feature_map, "layer")
    except Exception:
        raise ValueError(
            f"feature_map: got {feature_map!r}; accepted: one of {sorted(FEATURE_MAPS)}, a callable, "
            "or a registered layer name"
        ) from None
    return paperzoo.create(spec.qualified_name, **params)


# -- the tinylm kernel ------------------------------------------------------------------------------
def causal_offset(mask: AttentionMask | None, tq: int, tk: int) -> tuple[bool, int]:
    """Whether a linear-attention kernel's call is causal, and its queries' offset: the keys must be the
    cached ones followed by the queries' own (``q_offset = Tk - Tq``); ``ValueError`` otherwise."""
    causal = mask is not None and mask.causal and not mask.cross
    offset = tk - tq if causal else 0
    if causal and mask.q_offset != offset:
        raise ValueError(
            f"mask.q_offset: got {mask.q_offset} with {tq} queries and {tk} keys; accepted: "
            "the keys are the cached ones followed by the queries' own (q_offset = Tk - Tq)"
        )
    return causal, offset


class LinearAttention(nn.Module):
    """Linear attention as a tinylm kernel (``attention: tinylm_linear_attention``), called
    ``kernel(q, k, v, mask, pattern) -> z`` (``k = v = q`` when only ``q`` is given; no mask: non-causal).

    Grouped-query heads share their key/value head. With a KV cache the kernel reads every cached key:
    the state of the cached prefix comes from one product (:func:`linear_attention_state`), then
    ``form`` runs over the new tokens from it (``parallel`` instead runs its masked form over all keys).
    Padded keys (``mask.key_padding``) contribute nothing (their features are zeroed); a padded query
    therefore sees only the real keys before it, not itself. The pattern hook receives the parallel form's
    matrix (normalised rows when ``normalize``); patching it computes ``z = pattern @ v``.

    :param feature_map: ``identity``, ``elu1`` (``elu(x) + 1``), ``relu``, a name added with
        :func:`register_feature_map`, or a registered layer (built with ``feature_map_params``).
    :param feature_map_params: keywords of a registered feature-map layer.
    :param normalize: divide by ``sum_s phi(q_t) . phi(k_s) g^(t-s) + eps``.
    :param decay: ``None``, a float or one value per head, in ``(0, 1]`` (causal only).
    :param form: ``chunked``, ``parallel`` or ``recurrent`` (same result).
    :param chunk_size: tokens per chunk of the chunked form.
    :param eps: added to the normaliser.
    """

    def __init__(
        self,
        feature_map: str = "elu1",
        feature_map_params: dict | None = None,
        normalize: bool = True,
        decay: float | list[float] | None = None,
        form: str = "chunked",
        chunk_size: int = 64,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if form not in FORMS:
            raise ValueError(f"form: got {form!r}; accepted: one of {FORMS}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size: got {chunk_size}; accepted: at least 1")
        phi = resolve_feature_map(feature_map, **(feature_map_params or {}))
        # a module (e.g. random features) is a submodule, so its parameters and buffers follow the model
        self.phi: nn.Module | None = phi if isinstance(phi, nn.Module) else None
        self._fn = None if isinstance(phi, nn.Module) else phi
        self.feature_map, self.normalize, self.form = feature_map, normalize, form
        self.chunk_size, self.eps = chunk_size, eps
        self.decay = (
            None if decay is None else (float(decay) if isinstance(decay, int | float) else list(decay))
        )
        if self.decay is not None:
            _log_decay(self.decay, 1 if isinstance(self.decay, float) else len(self.decay), torch.zeros(()))

    def extra_repr(self) -> str:
        return (
            f"feature_map={self.feature_map!r}, normalize={self.normalize}, decay={self.decay}, "
            f"form={self.form!r}, chunk_size={self.chunk_size}"
        )

    def forward(self, q, k=None, v=None, mask: AttentionMask | None = None, pattern=None) -> torch.Tensor:
        k = q if k is None else k
        v = k if v is None else v
        causal, offset = causal_offset(mask, q.shape[2], k.shape[2])
        decay = self.decay if causal else None
        if self.decay is not None and not causal:
            raise ValueError(
                "decay: the decayed kernel is causal only; accepted: a causal mask, or decay=None"
            )
        phi = self.phi if self.phi is not None else self._fn
        fq, fk = phi(q), phi(k)
        if mask is not None and mask.key_padding is not None:
            fk = fk * mask.key_padding[:, None, :, None].to(fk.dtype)
        groups = q.shape[1] // k.shape[1]
        fk, v = repeat_kv(fk, groups), repeat_kv(v, groups)
        opts = dict(decay=decay, normalize=self.normalize, eps=self.eps)
        if pattern is not None and pattern.active:
            weights = linear_attention_weights(fq, fk, causal=causal, q_offset=offset, **opts)
            if pattern.patching:
                return pattern(weights) @ v
            with torch.no_grad():
                pattern(weights)
        if self.form == "parallel":
            return linear_attention_parallel(fq, fk, v, causal=causal, q_offset=offset, **opts)
        state = None
        if offset:
            state = linear_attention_state(
                fk[:, :, :offset], v[:, :, :offset], decay=decay, normalize=self.normalize
            )
            fk, v = fk[:, :, offset:], v[:, :, offset:]
        if self.form == "recurrent":
            return linear_attention_recurrent(fq, fk, v, causal=causal, state=state, **opts)[0]
        return linear_attention_chunked(
            fq, fk, v, causal=causal, chunk_size=self.chunk_size, state=state, **opts
        )[0]


def retnet_decays(n_heads: int) -> list[float]:
    """RetNet's per-head decays ``1 - 2^(-5 - h)``, ``h = 0 .. n_heads - 1`` (a common choice)."""
    return [1.0 - math.pow(2.0, -5.0 - h) for h in range(n_heads)]
