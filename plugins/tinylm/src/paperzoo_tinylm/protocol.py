"""The causal-LM protocol every decoder of the kit relies on, and key/value-cache helpers (frozen).

A model is called as::

    out = model(input_ids, past_key_values=past, use_cache=True, output_hidden_states=True)

and ``out`` gives

* ``logits``: ``(B, S, V)`` next-token scores for every input position;
* ``hidden_states``: when asked, a sequence of per-layer ``(B, S, E)`` tensors whose last entry is the
  final-layer representation (after the final norm); a single ``(B, S, E)`` tensor is accepted too;
* ``past_key_values``: the cache after these tokens, needed only when ``use_cache=True``.

``out`` is either an object with those attributes (tinylm's output, transformers'
``CausalLMOutputWithPast``, a ``types.SimpleNamespace``) or the tuple ``(logits, hidden_states,
past_key_values)``. When ``past_key_values`` is given, ``input_ids`` holds only the new tokens and the
model continues the positions of the cached prefix. tinylm's decoder and transformers' causal LMs
(``GPT2LMHeadModel``, ``LlamaForCausalLM``...) follow the protocol as they are.

A cache is one of

* transformers' ``DynamicCache`` (``batch_repeat_interleave(n)``, ``batch_select_indices(index)``, edited
  in place);
* the kit's :class:`paperzoo_tinylm.cache.KVCache` (``repeat_interleave(n)`` and ``select(index)``,
  each returning a new cache);
* any nesting of tuples/lists of tensors whose first dimension is the batch.

:func:`repeat_cache` and :func:`select_cache` handle all three and return the cache to use next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class StepOutput:
    """What one forward pass gives a decoder.

    :param logits: ``(B, S, V)``.
    :param hidden: ``(B, S, E)`` final-layer representations, or ``None`` when not asked for.
    :param past: the cache, or ``None``.
    """

    logits: torch.Tensor
    hidden: torch.Tensor | None
    past: Any


def _last_hidden(hidden_states: Any) -> torch.Tensor:
    if isinstance(hidden_states, torch.Tensor):
        return hidden_states
    if hidden_states is None:
        raise TypeError("the model returned no hidden states; it must honour output_hidden_states=True")
    return hidden_states[-1]


def _is_transformers_model(model: Any) -> bool:
    return any(cls.__module__.startswith("transformers.") for cls in type(model).__mro__)


def empty_cache(model: Any) -> Any:
    """The cache to start decoding from: an empty ``DynamicCache`` for a transformers model (so that it
    keeps returning that object, which is edited in place, instead of converting a legacy tuple cache on
    every call), ``None`` otherwise (the model creates its cache)."""
    if not _is_transformers_model(model):
        return None
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)  # per-layer kinds (sliding windows) from the config
    except TypeError:
        return DynamicCache()


def forward(
    model: Any, input_ids: torch.Tensor, past: Any = None, use_cache: bool = True, hidden: bool = False
) -> StepOutput:
    """One forward pass of ``model`` under the protocol above (``past=None`` with ``use_cache=True``
    starts from :func:`empty_cache`); ``hidden=True`` asks for the final-layer representations."""
    if use_cache and past is None:
        past = empty_cache(model)
    out = model(input_ids, past_key_values=past, use_cache=use_cache, output_hidden_states=hidden)
    if isinstance(out, tuple):
        logits, hidden_states, new_past = out
    else:
        logits, hidden_states = out.logits, getattr(out, "hidden_states", None)
        new_past = getattr(out, "past_key_values", None)
    if use_cache and new_past is None:
        raise TypeError(f"{type(model).__name__} returned no past_key_values; decode it with use_cache=False")
    return StepOutput(
        logits, _last_hidden(hidden_states) if hidden else None, new_past if use_cache else None
    )


def _map_tensors(cache: Any, fn) -> Any:
    if isinstance(cache, torch.Tensor):
        return fn(cache)
    if isinstance(cache, (tuple, list)):
        return type(cache)(_map_tensors(item, fn) for item in cache)
    if cache is None:
        return None
    raise TypeError(
        f"cannot index a cache of type {type(cache).__name__}: expected batch_select_indices(), "
        "select()/repeat_interleave() or nested tuples/lists of tensors"
    )


def _is_kit_cache(cache: Any) -> bool:
    return (
        not isinstance(cache, torch.Tensor)
        and hasattr(cache, "select")
        and hasattr(cache, "repeat_interleave")
    )


def repeat_cache(cache: Any, repeats: int) -> Any:
    """Each batch row repeated ``repeats`` times in a row (``[a, a, b, b]``), one copy per candidate."""
    if hasattr(cache, "batch_repeat_interleave"):
        cache.batch_repeat_interleave(repeats)
        return cache
    if _is_kit_cache(cache):
        return cache.repeat_interleave(repeats)
    return _map_tensors(cache, lambda t: t.repeat_interleave(repeats, dim=0))


def select_cache(cache: Any, index: torch.Tensor) -> Any:
    """The batch rows ``index`` of the cache, in that order (repeats allowed: beam reordering)."""
    if hasattr(cache, "batch_select_indices"):
        cache.batch_select_indices(index)
        return cache
    if _is_kit_cache(cache):
        return cache.select(index)
    return _map_tensors(cache, lambda t: t.index_select(0, index.to(t.device)))
