"""The paper's headline claim at small scale: with the same experts and (almost) the same parameters, the
recurrent router reaches a lower loss and a higher routing entropy than the linear softmax router.

Both tiny MoE decoders (4 blocks of width 32, 8 experts, top-2) train 100 AdamW steps on the standard
library's source with the load-balance loss (weight 0.01), for 3 seeds. Parameters are matched by giving
the linear-router model wider experts (``d_ff`` 33 instead of 32): 142,304 against RMoE's 142,400."""

import pytest

from paperzoo_rmoe.claim import run

SEEDS = (0, 1, 2)


@pytest.mark.claim
@pytest.mark.xfail(
    strict=True,
    reason="not reproduced at this scale: mean validation loss over 3 seeds 2.908 (RMoE) vs 2.894 (linear; "
    "RMoE lower in 1 of 3 seeds); RMoE's gate entropy 2.0794 vs 2.0751 is higher only because its router "
    "stays almost uniform (ln 8 = 2.0794) in 100 steps",
)
def test_lower_loss_and_higher_routing_entropy(record_property):
    results = [run(seed) for seed in SEEDS]
    mean = {
        name: {k: sum(r[name][k] for r in results) / len(results) for k in ("val_loss", "gate_entropy")}
        for name in ("linear", "rmoe")
    }
    for name in mean:
        record_property(f"val_loss_{name}", round(mean[name]["val_loss"], 4))
        record_property(f"gate_entropy_{name}", round(mean[name]["gate_entropy"], 4))
    assert (
        abs(results[0]["linear"]["params"] - results[0]["rmoe"]["params"])
        < 0.001 * results[0]["rmoe"]["params"]
    )
    assert mean["rmoe"]["val_loss"] < mean["linear"]["val_loss"]
    assert mean["rmoe"]["gate_entropy"] > mean["linear"]["gate_entropy"]
