"""PST's sparsity schedule (the official ``schedule_sparsity_ratio``): ``s_i`` for the first
``initial_warmup`` fraction of the steps, then cubic (Zhu & Gupta) to ``s_f``, reached when the last
``final_warmup`` fraction begins:

    s(t) = s_i + (s_f - s_i) (1 - (1 - (t - t0)/(t1 - t0))^3),  t0 = initial_warmup T,  t1 = T - final_warmup T

which is the compress kit's ``cubic_sparsity`` shifted by ``s_i``.
"""

from __future__ import annotations

from paperzoo_compress.schedules import cubic_sparsity


def pst_sparsity(
    step: float,
    total: int,
    final_sparsity: float,
    initial_warmup: float = 0.1,
    final_warmup: float = 0.3,
    initial_sparsity: float = 0.0,
) -> float:
    """The sparsity at optimizer step ``step`` of ``total`` (official defaults: warmups 0.1 and 0.3)."""
    t0, t1 = initial_warmup * total, total - final_warmup * total
    return initial_sparsity + cubic_sparsity(step, t0, t1, final_sparsity - initial_sparsity)
