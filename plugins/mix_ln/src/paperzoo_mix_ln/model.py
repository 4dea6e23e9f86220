"""Mix-LN as a tinylm decoder: the first ``floor(alpha * n_layers)`` blocks Post-LN, the rest Pre-LN.

* Post-LN block: ``x = norm(x + f(x))`` for attention and ffn;
* Pre-LN block: ``x = x + f(norm(x))``;
* a final norm after the last block whenever it is Pre-LN (tinylm's rule: ``final_norm=None``), as in the
  official code, whose model always ends with a norm.

:class:`MixLNTransformer` is ``tinylm_decoder`` with ``norm_placement`` set to
:func:`mix_ln_placements` (``n_post`` Post-LN blocks then Pre-LN ones): the same parameter names, so its
weights load into (and from) a Pre-LN or Post-LN tinylm decoder of the same size.
"""

from __future__ import annotations

import math
from typing import Any

from paperzoo_tinylm.config import TinyLMConfig, make_config, with_config_signature
from paperzoo_tinylm.model import TinyLMDecoder

#: The paper's default share of Post-LN blocks (Li et al., 2025, section 4: alpha = 0.25).
DEFAULT_ALPHA = 0.25


def post_ln_count(n_layers: int, alpha: float = DEFAULT_ALPHA, n_post: int | None = None) -> int:
    """How many leading blocks are Post-LN: ``n_post`` when given (the official code's ``POST_NUM``),
    else ``floor(alpha * n_layers)`` (a product within 1e-9 of an integer counts as that integer, so that
    e.g. ``alpha=0.3, n_layers=10`` gives 3 whatever the float rounding)."""
    if n_post is not None:
        if isinstance(n_post, bool) or not isinstance(n_post, int) or not 0 <= n_post <= n_layers:
            raise ValueError(f"n_post: got {n_post!r}; accepted: an integer from 0 to n_layers={n_layers}")
        return n_post
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: got {alpha!r}; accepted: a number in [0, 1]")
    return min(n_layers, math.floor(alpha * n_layers + 1e-9))


def mix_ln_placements(n_layers: int, alpha: float = DEFAULT_ALPHA, n_post: int | None = None) -> list[str]:
    """tinylm's per-block ``norm_placement`` list of Mix-LN: ``post`` for the first blocks, then ``pre``."""
    k = post_ln_count(n_layers, alpha, n_post)
    return ["post"] * k + ["pre"] * (n_layers - k)


@with_config_signature(exclude=("norm_placement",))
class MixLNTransformer(TinyLMDecoder):
    """Mix-LN causal transformer LM (``mix_ln_transformer``): a tinylm decoder whose first
    ``floor(alpha * n_layers)`` blocks are Post-LN and the rest Pre-LN.

    :param alpha: share of Post-LN blocks, in [0, 1] (0: a Pre-LN stack; 1: a Post-LN stack).
    :param n_post: the number of Post-LN blocks, overriding ``alpha`` (the official code's ``POST_NUM``).
    :param config: any other :class:`~paperzoo_tinylm.config.TinyLMConfig` field (``d_model``,
        ``n_layers``, ``n_heads``, ``norm``, ``final_norm``, ...); ``norm_placement`` is set by ``alpha``.
    """

    def __init__(
        self,
        config: TinyLMConfig | None = None,
        *,
        alpha: float = DEFAULT_ALPHA,
        n_post: int | None = None,
        **params: Any,
    ) -> None:
        if "norm_placement" in params:
            raise ValueError(
                "norm_placement: set by alpha (or n_post) in mix_ln_transformer; accepted: omit it"
            )
        cfg = make_config(config, params)
        placements = mix_ln_placements(cfg.n_layers, alpha, n_post)
        super().__init__(cfg, norm_placement=placements)
        self.alpha, self.n_post = alpha, placements.count("post")
