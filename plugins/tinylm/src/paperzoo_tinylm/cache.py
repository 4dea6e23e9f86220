"""The key/value cache of tinylm models (frozen interface).

Per layer, keys and values of shape ``[B, H_kv, T, Dh]`` (keys after RoPE). ``select`` and
``repeat_interleave`` return new caches; ``batch_select_indices`` and ``batch_repeat_interleave`` do the
same in place (transformers' ``DynamicCache`` names, so decoding code written for transformers works).
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of every attention layer, batch first."""

    def __init__(
        self, keys: list[torch.Tensor] | None = None, values: list[torch.Tensor] | None = None
    ) -> None:
        self.keys: list[torch.Tensor] = list(keys or [])
        self.values: list[torch.Tensor] = list(values or [])
        if len(self.keys) != len(self.values):
            raise ValueError(f"got {len(self.keys)} key tensors and {len(self.values)} value tensors")

    def __len__(self) -> int:
        return len(self.keys)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``k, v`` (``[B, H_kv, T_new, Dh]``) to layer ``layer``; returns all keys and values."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        elif layer < len(self.keys):
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=-2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=-2)
        else:
            raise IndexError(f"layer {layer} updated before layer {len(self.keys)}")
        return self.keys[layer], self.values[layer]

    def get_seq_length(self, layer: int = 0) -> int:
        """Tokens cached (0 for an empty cache)."""
        return self.keys[layer].shape[-2] if layer < len(self.keys) else 0

    def _map(self, fn) -> KVCache:
        return KVCache([fn(k) for k in self.keys], [fn(v) for v in self.values])

    def select(self, index: torch.Tensor) -> KVCache:
        """The batch rows ``index`` (a new cache)."""
        return self._map(lambda t: t.index_select(0, index.to(t.device)))

    def repeat_interleave(self, n: int) -> KVCache:
        """Each batch row ``n`` times in a row, ``[a, a, b, b]`` (a new cache)."""
        return self._map(lambda t: t.repeat_interleave(n, dim=0))

    def crop(self, length: int) -> None:
        """Keep the first ``length`` positions (in place); a negative ``length`` drops that many."""
        if length < 0:
            length = max(0, self.get_seq_length() + length)
        self.keys = [k[..., :length, :] for k in self.keys]
        self.values = [v[..., :length, :] for v in self.values]

    def batch_select_indices(self, index: torch.Tensor) -> None:
        """:meth:`select` in place."""
        new = self.select(index)
        self.keys, self.values = new.keys, new.values

    def batch_repeat_interleave(self, n: int) -> None:
        """:meth:`repeat_interleave` in place."""
        new = self.repeat_interleave(n)
        self.keys, self.values = new.keys, new.values

    def __repr__(self) -> str:
        shape = tuple(self.keys[0].shape) if self.keys else ()
        return f"KVCache(layers={len(self)}, shape={shape})"
