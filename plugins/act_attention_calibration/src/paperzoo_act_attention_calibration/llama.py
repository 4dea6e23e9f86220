"""ACT on transformers' ``LlamaForCausalLM`` (and models with its attention module): a context manager
that replaces the ``forward`` of the listed layers' ``self_attn`` modules with an explicit-softmax
attention that calibrates the listed heads, as the official code replaces ``LlamaAttention.forward``.

Scope: transformers 5.x ``LlamaAttention`` (``q_proj``/``k_proj``/``v_proj``/``o_proj``, ``scaling``,
``num_key_value_groups``, ``layer_idx``; position embeddings passed in); any ``attn_implementation``
(the mask it receives may be ``None`` (causal), boolean or additive). Training-time dropout is ignored
(ACT is an inference method)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import MethodType

import torch
from paperzoo.compat import import_transformers
from torch import nn

from paperzoo_act_attention_calibration.calibration import (
    BETA,
    THRESHOLD,
    calibrate,
    causal_allowed,
    check_params,
)
from paperzoo_act_attention_calibration.kernel import HeadSet, as_head_set


def _allowed(mask: torch.Tensor | None, tq: int, tk: int, device: torch.device) -> torch.Tensor:
    if mask is None:
        return causal_allowed(tq, tk, device)
    mask = mask[..., :tk]
    if mask.dtype == torch.bool:
        return mask
    return mask > torch.finfo(mask.dtype).min / 2


def _forward(
    self: nn.Module,
    hidden_states: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    attention_mask: torch.Tensor | None = None,
    past_key_values=None,
    *,
    heads: Sequence[int],
    beta: float,
    threshold: float,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    import_transformers()  # loads beside a torchvision without its C++ operators
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, repeat_kv

    shape = (*hidden_states.shape[:-1], -1, self.head_dim)
    q = self.q_proj(hidden_states).view(shape).transpose(1, 2)
    k = self.k_proj(hidden_states).view(shape).transpose(1, 2)
    v = self.v_proj(hidden_states).view(shape).transpose(1, 2)
    q, k = apply_rotary_pos_emb(q, k, *position_embeddings)
    if past_key_values is not None:
        k, v = past_key_values.update(k, v, self.layer_idx)
    k, v = repeat_kv(k, self.num_key_value_groups), repeat_kv(v, self.num_key_value_groups)
    tq, tk = q.shape[-2], k.shape[-2]
    allowed = _allowed(attention_mask, tq, tk, q.device)
    scores = (q @ k.transpose(-1, -2)) * self.scaling
    scores = scores.masked_fill(~allowed, float("-inf"))
    low = q.dtype in (torch.float16, torch.bfloat16)  # half precision: softmax in float32, as transformers
    p = scores.softmax(-1, dtype=torch.float32 if low else q.dtype).to(q.dtype)
    p = calibrate(p, heads, beta, threshold, allowed)
    z = (p @ v).transpose(1, 2).contiguous()
    return self.o_proj(z.reshape(*hidden_states.shape[:-1], -1)), p


@contextmanager
def calibrated_llama(
    model: nn.Module,
    heads: HeadSet | Iterable[tuple[int, int]],
    beta: float = BETA,
    threshold: float = THRESHOLD,
) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the transformers Llama ``model`` calibrates the heads
    ``{layer: [head]}``; the original attention forward is restored on exit."""
    check_params(beta, threshold)
    layers = model.model.layers
    patched = []
    try:
        for layer, hs in as_head_set(heads).items():
            attn = layers[layer].self_attn
            fn = partial(_forward, heads=hs, beta=beta, threshold=threshold)
            attn.forward = MethodType(lambda self, *a, _fn=fn, **kw: _fn(self, *a, **kw), attn)
            patched.append(attn)
        yield model
    finally:
        for attn in patched:
            del attn.forward
