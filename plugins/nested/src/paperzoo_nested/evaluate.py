"""A metric evaluated at each truncation dim of an embedding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .loss import check_dims, truncate


def metric_at_dims(
    metric: Callable[..., float],
    embeddings: torch.Tensor | Sequence[torch.Tensor],
    dims: Sequence[int],
    *,
    normalize: bool = False,
) -> dict[int, float]:
    """``{m: metric(*prefixes_m)}`` for each ``m`` of ``dims``, where ``prefixes_m`` are ``z[..., :m]``
    of each tensor of ``embeddings`` (e.g. a query and a key set for retrieval), under ``no_grad``."""
    zs = [embeddings] if isinstance(embeddings, torch.Tensor) else list(embeddings)
    dims = check_dims(dims, min(z.shape[-1] for z in zs))
    with torch.no_grad():
        return {m: float(metric(*(truncate(z, m, normalize=normalize) for z in zs))) for m in dims}


def zero_pad(z: torch.Tensor, m: int) -> torch.Tensor:
    """``z`` with the features after the first ``m`` set to zero (a copy): feeding it to a full-width
    linear map gives the same result as the map restricted to the first ``m`` inputs."""
    out = z.clone()
    out[..., m:] = 0
    return out
