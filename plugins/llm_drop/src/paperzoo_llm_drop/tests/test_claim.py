"""The paper's claims at small scale, on the ``stdlib-small`` tinylm checkpoint (4 blocks, byte-level,
trained on the standard library's source), one-shot, no retraining, held-out loss on 24 random blocks of
128 bytes of the checkpoint's validation split; 3 seeds of calibration data (16 random training blocks)
and of random picks.

1. Dropping the ``k`` attention sublayers the metric ranks most redundant raises the held-out loss less
   than dropping ``k`` random ones (a drawn pick per seed, and the exact mean over all ``C(4, k)`` picks).
   Reproduced for k = 1 and 2.
2. Attention is more droppable than MLP (dropping the ``k`` most redundant attention sublayers costs less
   than dropping the ``k`` most redundant MLPs). Not reproduced on this 4-block model: its MLPs have the
   higher similarity and cost less to drop (strict xfail with the measured numbers).
"""

import itertools

import pytest
import torch

from paperzoo_llm_drop.drop import drop_modules, lm_loss, select_drops

SEEDS = (0, 1, 2)


def _blocks(ids: torch.Tensor, n: int, seed: int, seq_len: int = 128) -> torch.Tensor:
    starts = torch.randint(len(ids) - seq_len, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([ids[s : s + seq_len] for s in starts.tolist()])


@pytest.fixture(scope="module")
def setting():
    import paperzoo_tinylm
    from paperzoo_tinylm.data import stdlib_split
    from paperzoo_tinylm.tokenizer import encode

    model = paperzoo_tinylm.pretrained("stdlib-small")
    train, val = (torch.tensor(encode(text)) for text in stdlib_split())
    held_out = _blocks(val, 24, seed=1234)
    calib = {seed: _blocks(train, 16, seed) for seed in SEEDS}
    return model, held_out, calib, lm_loss(model, held_out)


def _loss(model, held_out, target: str, layers) -> float:
    return lm_loss(drop_modules(model, **{target: list(layers)}), held_out)


@pytest.mark.claim
@pytest.mark.parametrize("k", [1, 2])
def test_metric_attention_drop_beats_random_drop(setting, k, record_property):
    model, held_out, calib, full = setting
    n = len(model.blocks)
    all_picks = {c: _loss(model, held_out, "attn", c) for c in itertools.combinations(range(n), k)}
    random_mean = sum(all_picks.values()) / len(all_picks)
    rows = []
    for seed in SEEDS:
        chosen = tuple(select_drops(model, calib[seed], k, ("attn",))["attn"])
        drawn = tuple(sorted(torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].tolist()))
        rows.append((chosen, all_picks[chosen], drawn, all_picks[drawn]))
    print(f"k={k} full={full:.4f} random mean={random_mean:.4f}", rows)
    record_property(f"loss_full_k{k}", round(full, 4))
    record_property(f"loss_metric_attn_k{k}", [round(r[1], 4) for r in rows])
    record_property(f"loss_random_attn_k{k}", [round(r[3], 4) for r in rows])
    record_property(f"loss_random_attn_mean_k{k}", round(random_mean, 4))
    for chosen, metric_loss, drawn, random_loss in rows:
        assert metric_loss < random_mean, rows
        assert metric_loss < random_loss or drawn == chosen, rows  # a tie only when the draw is the pick
        assert metric_loss > full  # dropping costs something: the comparison is not vacuous


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced on the 4-block stdlib-small: MLPs are the more redundant modules there "
    "(similarity 0.94-0.97 vs attention 0.91-0.95 on blocks 1-3); dropping the top MLP costs "
    "loss 2.163 vs 2.165-2.264 for the top attention (k=1), 2.275 vs 2.340 (k=2)",
)
@pytest.mark.parametrize("k", [1, 2])
def test_attention_drop_costs_less_than_mlp_drop(setting, k, record_property):
    model, held_out, calib, _ = setting
    rows = []
    for seed in SEEDS:
        attn = select_drops(model, calib[seed], k, ("attn",))["attn"]
        mlp = select_drops(model, calib[seed], k, ("mlp",))["mlp"]
        rows.append((_loss(model, held_out, "attn", attn), _loss(model, held_out, "mlp", mlp)))
    print(f"k={k} (attention drop, mlp drop)", rows)
    record_property(f"loss_attn_drop_k{k}", [round(a, 4) for a, _ in rows])
    record_property(f"loss_mlp_drop_k{k}", [round(m, 4) for _, m in rows])
    assert all(a < m for a, m in rows), rows
